import { type DescMessage, type MessageShape, toJson } from "@bufbuild/protobuf";

/** Writes a response message as its canonical proto3 JSON (as Connect and `buf curl` print it), one document per line. */
export function printJson<Desc extends DescMessage>(
  stdout: NodeJS.WritableStream,
  schema: Desc,
  message: MessageShape<Desc>,
): void {
  stdout.write(`${JSON.stringify(toJson(schema, message, { alwaysEmitImplicit: true }))}\n`);
}
