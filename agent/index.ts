// driftwatch/agent: the SDK imported by model-serving code.
export { createMonitor, SDK_VERSION } from './monitor.js';
export type {
  EmbeddingValue,
  FeatureValue,
  LabelInput,
  Monitor,
  MonitorOptions,
  MonitorStats,
  PredictionBatch,
  PredictionInput,
  RedactMode,
  WrapOptions,
} from './types.js';
