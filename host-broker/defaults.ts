// Where the hub listens and keeps its data when nothing says otherwise. Shared
// by the CLI, start-hub and the config reference.
export const DEFAULT_DATA_DIR = '.hub-data';
export const DEFAULT_HOST = '127.0.0.1';
/** The control API's port when `start --control-port` is given without one, and where `routes ...` and `devices ...` commands look. */
export const DEFAULT_CONTROL_PORT = 8081;
/** Seconds between $SYS updates unless metrics.sysInterval says otherwise (Mosquitto's sys_interval default). */
export const DEFAULT_SYS_INTERVAL = 10;
/** MQTT over TCP when neither flags nor a config file name a listener. */
export const DEFAULT_TCP_PORT = 1883;
/** Where `routes` and `devices` commands look for a running hub's control API. */
export const DEFAULT_CONTROL_URL = `http://${DEFAULT_HOST}:${DEFAULT_CONTROL_PORT}`;
