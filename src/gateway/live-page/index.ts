/**
 * The gateway's live page (`/live`): publish a camera by WHIP, watch the output by WHEP, change
 * params, see fps, glass-to-glass latency and cost ({@link createLivePage}).
 */
export * from "./server.ts";
