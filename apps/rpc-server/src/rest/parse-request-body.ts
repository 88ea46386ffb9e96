import type { z } from "zod";
import { invalidParam, RestRequestError } from "./rest-request-error.js";

type Issue = z.core.$ZodIssue;

/** Phrases schemas gave through {@link expecting}, told apart from zod's own messages without reading them. */
const phrases = new Set<string>();

/**
 * A zod `error` option naming what a field must be (`"an integer"`, `"a string or an array of strings"`),
 * so the refusal reads "<field> must be <phrase> (got …)".
 */
export function expecting(phrase: string): { error: string } {
  phrases.add(phrase);
  return { error: phrase };
}

/** Said after "<field> is required" for the fields every request names. */
const requiredHints: Record<string, string> = {
  model: 'set it to a model id such as "llama-cpp/<model>" (GET /v1/models lists them)',
  messages: "send at least one message",
  prompt: "send the text to complete",
};

/**
 * Checks a parsed JSON body against a zod schema of an OpenAI request. Unknown fields are ignored, as
 * OpenAI does; the first wrong field is refused with a 400 whose message names it (`messages[0].content`)
 * and says what it must be and what was sent, and whose `param` is that field.
 */
export function parseRequestBody<Schema extends z.ZodType>(schema: Schema, body: unknown): z.output<Schema> {
  // Zod's compiled fast path checks valid bodies; `reportInput` (what was sent, for the message) turns
  // it off, so only a refused body is checked again with it.
  const valid = schema.safeParse(body);
  if (valid.success) return valid.data;
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new RestRequestError(400, "the request body is not valid", { code: "invalid_value" });
  if (issue.path.length === 0) {
    throw new RestRequestError(400, `the request body must be a JSON object (got ${describe(issue.input)})`, {
      code: "invalid_json",
    });
  }
  const field = fieldName(issue.path);
  throw invalidParam(messageOf(issue, field), field);
}

function messageOf(issue: Issue, field: string): string {
  if ((issue.code === "invalid_type" || issue.code === "invalid_union") && issue.input === undefined) {
    const hint = requiredHints[field];
    return hint ? `${field} is required: ${hint}` : `${field} is required`;
  }
  switch (issue.code) {
    case "invalid_type": {
      const phrase = phrases.has(issue.message) ? issue.message : expected(issue.expected);
      return `${field} must be ${phrase} (got ${describe(issue.input)})`;
    }
    case "invalid_union": {
      const phrase = phrases.has(issue.message) ? issue.message : "of another type";
      return `${field} must be ${phrase} (got ${describe(issue.input)})`;
    }
    case "too_big":
    case "too_small": {
      // z.int() beyond ±2^53: the integer cannot be held exactly. The field's own range is checked later.
      const bound =
        issue.code === "too_big" ? `no larger than ${issue.maximum}` : `no smaller than ${issue.minimum}`;
      return `${field} must be ${phrases.has(issue.message) ? issue.message : "a value"} ${bound} (got ${describe(issue.input)})`;
    }
    case "invalid_value":
      return `${field} must be ${issue.values.map((value) => JSON.stringify(value)).join(" or ")} (got ${describe(issue.input)})`;
    default:
      return `${field}: ${issue.message}`;
  }
}

/** `["messages", 0, "content"]` → `messages[0].content`. */
function fieldName(path: PropertyKey[]): string {
  let name = "";
  for (const key of path) {
    name += typeof key === "number" ? `[${key}]` : name === "" ? String(key) : `.${String(key)}`;
  }
  return name;
}

function expected(type: string): string {
  switch (type) {
    case "array":
    case "object":
      return `an ${type}`;
    default:
      return `a ${type}`;
  }
}

/** A short description of what was sent, safe to echo (strings are cut short). */
function describe(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "an array";
  switch (typeof input) {
    case "object":
      return "an object";
    case "string":
      return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input);
    default:
      return String(input);
  }
}
