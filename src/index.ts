// Public API of the package: start an emulator in-process.
export { startEmulator, createEmulator, type RunningEmulator } from "./server.js";
export { resolveConfig, type EmulatorConfig } from "./config.js";
export { buildApp } from "./app.js";
