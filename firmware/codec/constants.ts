// MQTT 3.1.1 fixed-header first bytes (type << 4 | flags) the client sends, the
// packet types it receives, CONNACK return codes. Plain numbers: terser inlines them.
// No literal chars above 127 anywhere in firmware: the bundle is UTF-8 text and an
// ESP build would read such a char as two bytes.
export const CONNECT = 0x10;
export const PUBLISH = 0x30;
export const PUBACK = 0x40;
export const PUBREC = 0x50;
export const PUBREL = 0x62; // PUBREL, SUBSCRIBE, UNSUBSCRIBE carry flags 0010 [MQTT-3.6.1-1]
export const PUBCOMP = 0x70;
export const SUBSCRIBE = 0x82;
export const UNSUBSCRIBE = 0xa2;
export const PINGREQ = 0xc0;
export const DISCONNECT = 0xe0;
/** The DUP flag of a PUBLISH's first byte [MQTT-3.3.1-1]. */
export const DUP = 8;

export const T_CONNACK = 2;
export const T_PUBLISH = 3;
export const T_PUBREC = 5;
export const T_PUBREL = 6;
export const T_SUBACK = 9;
export const T_PINGRESP = 13;

/** Bit i set: type i is CONNACK or a packet-id-only ack (PUBACK..PUBCOMP, UNSUBACK), 2-byte bodies. */
export const TWO_BYTE_TYPES = 0x8f4;

/** CONNACK return codes 1..5 [MQTT-3.2.2-3], indexed by code. */
export const CONNACK_TEXT = ',unacceptable protocol version,identifier rejected,server unavailable,bad user name or password,not authorized';
