/** The example capabilities `tributary dev` runs, and their devnet prices. */
/** Name of the BYOC capability text-reverse registers. */
export const TEXT_REVERSE_CAPABILITY = "text-reverse";
/** Price of text-reverse on devnet, wei per second (free offchain). */
export const TEXT_REVERSE_DEVNET_PRICE = 1_000_000_000n;
/** The live pipeline and model id green-tint is configured as. */
export const GREEN_TINT_PIPELINE = "live-video-to-video";
export const GREEN_TINT_MODEL = "green-tint";
/**
 * Price of green-tint on devnet, wei per pixel (go-livepeer's live unit; free offchain): a minute of
 * 1280×720 at 30 fps costs about 1.7e11 wei, well inside the gateway's 1 ETH deposit.
 */
export const GREEN_TINT_DEVNET_PRICE_PER_PIXEL = 100n;
