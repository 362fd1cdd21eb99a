// The few Espruino globals the firmware uses. Declared here (not from @types)
// so that nothing Node-only type-checks in firmware/.
declare const E: {
  toString(x: any): string;
  toUint8Array(x: any): Uint8Array;
  getTemperature?(): number;
};
declare function setTimeout(fn: (a?: any, b?: any, c?: any) => void, ms?: number, a?: any, b?: any, c?: any): any;
declare function clearTimeout(id: any): void;
declare function setInterval(fn: () => void, ms: number): any;
declare function clearInterval(id: any): void;
declare function require(name: string): any;
declare function getTime(): number;
declare const console: { log(a?: any, b?: any, c?: any, d?: any): void };
declare const process: { memory(gc?: boolean): { usage: number; total: number; free: number; blocksize: number } };

// Compile-time constants from the board profile (rollup.config.mjs folds them).
declare const FEATURE_QOS2: boolean;
declare const FEATURE_WILL: boolean;
declare const FEATURE_SESSION: boolean;
declare const FEATURE_RECONNECT: boolean;
declare const FEATURE_TLS: boolean;
declare const FEATURE_CONNACK_TEXT: boolean;
declare const BOARD_UNICODE: boolean;
declare const BOARD_NAME: string;
declare const BOARD_VARS: number;
declare const BOARD_VAR_BYTES: number;
declare const BOARD_MAX_PACKET: number;
declare const BOARD_MAX_INFLIGHT: number;
declare const BOARD_OUTBOX_COUNT: number;
declare const BOARD_OUTBOX_BYTES: number;
declare const BOARD_MEMORY_MARGIN: number;
