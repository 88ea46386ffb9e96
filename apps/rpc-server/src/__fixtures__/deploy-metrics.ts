import { readFileSync } from "node:fs";
import { parse } from "yaml";

/** The repository's deploy/ folder: the Grafana dashboard, the alert rules, the manifests. */
export const deployDir = new URL("../../../../deploy/", import.meta.url);

const metricNames = /\b(?:http_|ai_provider_|noa_|process_|nodejs_)[a-zA-Z0-9_]*/g;

/** Metrics the worker exports (jobs, queues, webhooks); every other one is rpc-server's. */
export const isWorkerMetric = (name: string): boolean => /^noa_(job|queue|dead_letter|webhook)/.test(name);

/** Every metric name the Grafana dashboard and the Prometheus alert rules query, by file. */
export function referencedMetrics(): { dashboard: Set<string>; alerts: Set<string> } {
  const dashboard = JSON.parse(readFileSync(new URL("grafana/noa-dashboard.json", deployDir), "utf8")) as {
    panels: Array<{ targets: Array<{ expr: string }> }>;
  };
  const rules = parse(readFileSync(new URL("prometheus/alerts.yml", deployDir), "utf8")) as {
    groups: Array<{ rules: Array<{ expr: string }> }>;
  };
  const names = (expressions: string[]) =>
    new Set(expressions.flatMap((expression) => expression.match(metricNames) ?? []));
  return {
    dashboard: names(dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr))),
    alerts: names(rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr))),
  };
}

/** The series names a Prometheus text exposition offers (histograms with their _bucket/_count/_sum). */
export function exportedMetrics(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name as string);
    if (type === "histogram")
      for (const suffix of ["_bucket", "_count", "_sum"]) names.add(`${name}${suffix}`);
    if (type === "summary") for (const suffix of ["_count", "_sum"]) names.add(`${name}${suffix}`);
  }
  return names;
}
