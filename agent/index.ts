// driftwatch/agent: the SDK imported by model-serving code.
export { createMonitor, SDK_VERSION } from './monitor.js';
export type { FeatureValue, Monitor, MonitorOptions, MonitorStats, PredictionInput } from './types.js';
