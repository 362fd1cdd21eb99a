// Public face of hub routes (see README.md in this directory).
export { RouteManager, createTarget } from './manager';
export type { RouteManagerOptions, PublishedMessage } from './manager';
export { RouteConfigError, validateRoute, validateRoutes, redactRoute, DEFAULT_DELIVERY } from './config';
export type { DeadLetter } from './queue';
export type {
  RouteConfig, RouteStatus, RouteStats, DeliveryOptions, S3RouteConfig, SqlRouteConfig, RestRouteConfig,
} from './types';
