export { loadConfig, ConfigError, SERVICE_NAMES, type ServiceName } from "./config.js";
export { validateBatch, type GameEvent, type FieldProblem } from "./events.js";
