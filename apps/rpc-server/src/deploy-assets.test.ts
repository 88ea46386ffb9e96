import { readdirSync, readFileSync } from "node:fs";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import {
  deployDir as deploy,
  exportedMetrics,
  isWorkerMetric,
  referencedMetrics,
} from "./__fixtures__/deploy-metrics.js";
import { startTestServer, type TestServer } from "./__fixtures__/start-test-server.js";

// deploy/ holds the Grafana dashboard and the Prometheus alert rules; every metric they query must be
// one NOA exports, read from a live /metrics (a renamed metric would silently empty a panel). The
// worker's own metrics (jobs, queues, webhooks) are checked against a live worker in
// jobs-observability.test.ts.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

async function missingFromRpcServer(names: Set<string>): Promise<string[]> {
  const available = exportedMetrics(await (await fetch(`${server.baseUrl}/metrics`)).text());
  return [...names].filter((name) => !isWorkerMetric(name) && !available.has(name));
}

describe("deploy assets", () => {
  it("the Grafana dashboard queries only metrics NOA exports", async () => {
    const { dashboard } = referencedMetrics();
    expect(dashboard.size).toBeGreaterThan(15);
    expect([...dashboard].filter(isWorkerMetric).length).toBeGreaterThan(3);
    expect(await missingFromRpcServer(dashboard)).toEqual([]);
  });

  it("the Prometheus alert rules query only metrics NOA exports", async () => {
    const rules = parse(readFileSync(new URL("prometheus/alerts.yml", deploy), "utf8")) as {
      groups: Array<{ rules: Array<{ alert: string }> }>;
    };
    expect(rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert))).toEqual(
      expect.arrayContaining([
        "NoaHighErrorRate",
        "NoaHighLatencyP99",
        "NoaCircuitBreakerOpen",
        "NoaProviderCostSpike",
        "NoaQueueBacklog",
        "NoaDeadLetterGrowing",
        "NoaTraceSpansDropped",
        "NoaNotReady",
      ]),
    );
    expect(await missingFromRpcServer(referencedMetrics().alerts)).toEqual([]);
  });
});

/** The parts of a manifest the checks below read (Deployments and PodDisruptionBudgets). */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      spec: {
        securityContext: { runAsNonRoot?: boolean };
        containers: Array<{
          livenessProbe: { httpGet: { path: string } };
          readinessProbe: { httpGet: { path: string } };
        }>;
      };
    };
  };
}

describe("Kubernetes manifests", () => {
  const models: Record<string, new (data: never) => { validate(): void }> = {
    "apps/v1/Deployment": Deployment,
    "v1/Service": Service,
    "v1/ConfigMap": ConfigMap,
    "v1/Secret": Secret,
    "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
    "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  };
  const directory = new URL("kubernetes/", deploy);
  const documents = readdirSync(directory)
    .filter((file) => file.endsWith(".yaml"))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(new URL(file, directory), "utf8")).map((document) => ({
        file,
        object: document.toJS() as Manifest,
      })),
    );

  it("validates every object against the Kubernetes schemas", () => {
    expect(documents.length).toBeGreaterThan(8);
    for (const { file, object } of documents) {
      const Model = models[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${file}: ${object.apiVersion} ${object.kind} has no schema here`).toBeDefined();
      expect(() => new (Model as NonNullable<typeof Model>)(object as never).validate(), file).not.toThrow();
    }
  });

  it("wires each Deployment's probes to NOA's health endpoints, and covers each with a disruption budget", () => {
    const deployments = documents
      .filter(({ object }) => object.kind === "Deployment")
      .map(({ object }) => object);
    expect(deployments.map((deployment) => deployment.metadata.name).sort()).toEqual([
      "noa-rpc-server",
      "noa-trpc-bff",
      "noa-worker",
    ]);
    const budgets = documents
      .filter(({ object }) => object.kind === "PodDisruptionBudget")
      .map(({ object }) => object);
    for (const deployment of deployments) {
      const [container] = deployment.spec.template.spec.containers;
      if (!container) throw new Error(`${deployment.metadata.name} has no container`);
      expect(container.livenessProbe.httpGet.path).toBe("/health");
      expect(container.readinessProbe.httpGet.path).toMatch(/^\/health/);
      expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      const labels = deployment.spec.selector.matchLabels;
      expect(
        budgets.some(
          (budget) =>
            budget.spec.selector.matchLabels["app.kubernetes.io/name"] === labels["app.kubernetes.io/name"],
        ),
      ).toBe(true);
    }
    const rpc = deployments.find((deployment) => deployment.metadata.name === "noa-rpc-server");
    expect(rpc?.spec.template.spec.containers[0]?.readinessProbe.httpGet.path).toBe("/health/ready");
  });
});
