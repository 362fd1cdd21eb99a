// The module's public face: require("mqtt-client").create(options). See README.md.
export { create } from './session/client';
