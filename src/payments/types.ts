/**
 * The typed values of the payment system, as the payment modules and their users import them. They
 * are defined with the wire codecs in src/protocol (payment-types.ts), the layer below.
 */
export type * from "../protocol/payment-types.ts";
