// Run by hooks.test.ts through the runtime: prints what the test checks as one JSON line.
import runtimePackage from "../../package.json" with { type: "json" };
import { failHere, Greeter, type Greeting } from "./greeting.js";

const greeting: Greeting = { to: "sea" };
const greeter = new Greeter("Hello");
const namedArrow = () => greeter.greet(greeting);
const stack = failHere().stack ?? "";
console.log(
  JSON.stringify({
    text: namedArrow(),
    count: greeter.count,
    names: [namedArrow.name, Greeter.name, failHere.name],
    ownFields: Object.keys(greeter),
    packageName: runtimePackage.name,
    stackLine: stack.split("\n")[1]?.trim(),
  }),
);
