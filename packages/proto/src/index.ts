/** Public surface of the generated contract; the files under gen/ are written by `buf generate` only. */
export * from "./gen/noa/inference/v1/api_key_pb.js";
export * from "./gen/noa/inference/v1/inference_pb.js";
export * from "./gen/noa/inference/v1/job_pb.js";
export * from "./gen/noa/inference/v1/model_pb.js";
export * from "./gen/noa/inference/v1/usage_pb.js";
