/**
 * The gateway's network capabilities dashboard: a mountable HTTP handler ({@link createDashboard}) fed
 * by a {@link DashboardSource}, usually {@link createPoolDashboardSource} over the discovery pool.
 */
export * from "./server.ts";
export * from "./source.ts";
export * from "./state.ts";
