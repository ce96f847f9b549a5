// Public surface of the nginx provider (what the ProxyRoute and Host reconcilers use).
export { NginxHostApplier, type ApplierOptions, type RouteApplyResult, type RouteObservation, type HostApplyStatus } from './applier.ts';
export type { RouteState } from './apply.ts';
export { routeInputFromSpec, type NginxRouteInput, type NginxLocationInput, type ResolvedReferences } from './input.ts';
export { renderRoute, routeKey, accessLogPath, ACCESS_LOG_FORMAT, type RenderedRoute, type RenderSettings } from './render.ts';
export { settingsFromHostSpec, checkSettings, DEFAULT_STATUS_PORT, type NginxHostSettings } from './settings.ts';
export { checkTlsPair, TlsErrorCodes, type CertificateFacts } from './tls.ts';
export { validateRouteInput, validateSpecReferences, type FieldError } from './validate.ts';
export { NginxReasons } from './reasons.ts';
