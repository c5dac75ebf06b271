// The wire types, generated from the Rust shell by ts-rs into bindings/ (never edit those),
// re-exported from one place so modules import them with one short path.
export type { AddResult } from "./bindings/AddResult";
export type { ChunkFlight } from "./bindings/ChunkFlight";
export type { CommandError } from "./bindings/CommandError";
export type { Endpoint } from "./bindings/Endpoint";
export type { ErrorCode } from "./bindings/ErrorCode";
export type { EventName } from "./bindings/EventName";
export type { MediaType } from "./bindings/MediaType";
export type { ParallelChunks } from "./bindings/ParallelChunks";
export type { SessionRow } from "./bindings/SessionRow";
export type { ResumeState } from "./bindings/ResumeState";
export type { Settings } from "./bindings/Settings";
export type { SettingsInput } from "./bindings/SettingsInput";
export type { UploadRow } from "./bindings/UploadRow";
export type { UploadState } from "./bindings/UploadState";
