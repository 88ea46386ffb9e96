import {
  Capability,
  CircuitState,
  GetModelResponseSchema,
  ListModelsResponseSchema,
  type Model,
} from "@noa/proto";
import type { Command } from "commander";
import type { CliContext } from "../cli-context.js";
import { formatTable } from "../format-table.js";
import { formatTime } from "../format-time.js";
import { printJson } from "../print-json.js";
import { registerPull } from "./pull-model.js";

/** `noa models [ls | get ID | pull SOURCE]`. */
export function registerModels(program: Command, context: CliContext): void {
  const models = program
    .command("models")
    .description("list and inspect the models the key may use; pull GGUF files");

  const list = async () => {
    const response = await context.client().models.listModels({});
    if (context.options().json) return printJson(context.stdout, ListModelsResponseSchema, response);
    context.stdout.write(
      formatTable(
        ["ID", "PROVIDER", "CONTEXT", "LOADED", "TARGETS"],
        response.models.map((model) => [
          model.id,
          model.provider,
          model.contextLength ? String(model.contextLength) : "-",
          model.loaded ? "yes" : "no",
          model.targets.join(", ") || "-",
        ]),
      ),
    );
  };
  models.command("ls", { isDefault: true }).alias("list").description("list the models").action(list);

  models
    .command("get")
    .description("show one model")
    .argument("<id>", "model id or alias")
    .action(async (id: string) => {
      const response = await context.client().models.getModel({ id });
      if (context.options().json) return printJson(context.stdout, GetModelResponseSchema, response);
      if (response.model) context.stdout.write(describeModel(response.model));
    });

  registerPull(models, context);
}

function describeModel(model: Model): string {
  const rows: Array<[string, string]> = [
    ["id", model.id],
    ["provider", model.provider],
    [
      "capabilities",
      model.capabilities.map((c) => Capability[c]?.toLowerCase() ?? String(c)).join(", ") || "-",
    ],
    ["context length", model.contextLength ? String(model.contextLength) : "unknown"],
    ["loaded", model.loaded ? "yes" : "no"],
  ];
  if (model.targets.length > 0) rows.push(["targets", model.targets.join(" → ")]);
  if (model.circuitState !== CircuitState.UNSPECIFIED) {
    rows.push(["circuit", CircuitState[model.circuitState]?.toLowerCase() ?? "-"]);
    if (model.circuitRetryTime) rows.push(["circuit retry", formatTime(model.circuitRetryTime)]);
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}\n`).join("");
}
