export { type SpawnedNoaServer, spawnNoaServer } from "./spawn-noa-server.js";
