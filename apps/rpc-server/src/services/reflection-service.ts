import { create, type DescFile, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import {
  type ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "@noa/proto/grpc/reflection/v1";

/**
 * grpc.reflection.v1 over the descriptors protoc-gen-es embeds in the generated code, so tools that
 * know nothing of our proto (buf curl, grpcurl, Postman) can list and call the services.
 * https://github.com/grpc/grpc/blob/master/doc/server-reflection.md
 */
export function createReflectionService({
  files,
}: {
  files: DescFile[];
}): ServiceImpl<typeof ServerReflection> {
  const index = indexFiles(files);
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield answer(index, request);
    },
  };
}

interface FileIndex {
  byName: Map<string, DescFile>;
  bySymbol: Map<string, DescFile>;
  services: string[];
}

function indexFiles(roots: DescFile[]): FileIndex {
  const byName = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const services = new Set<string>();
  const visit = (file: DescFile) => {
    if (byName.has(file.proto.name)) return;
    byName.set(file.proto.name, file);
    const addMessage = (message: DescMessage) => {
      bySymbol.set(message.typeName, file);
      for (const field of message.fields) bySymbol.set(`${message.typeName}.${field.name}`, file);
      for (const nested of message.nestedMessages) addMessage(nested);
      for (const nested of message.nestedEnums) bySymbol.set(nested.typeName, file);
    };
    file.messages.forEach(addMessage);
    for (const enumeration of file.enums) bySymbol.set(enumeration.typeName, file);
    for (const extension of file.extensions) bySymbol.set(extension.typeName, file);
    for (const service of file.services) {
      bySymbol.set(service.typeName, file);
      for (const method of service.methods) bySymbol.set(`${service.typeName}.${method.name}`, file);
    }
    file.dependencies.forEach(visit);
  };
  for (const root of roots) {
    visit(root);
    for (const service of root.services) services.add(service.typeName);
  }
  return { byName, bySymbol, services: [...services].sort() };
}

function answer(index: FileIndex, request: ServerReflectionRequest): ServerReflectionResponse {
  const reply = (
    messageResponse: MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"],
  ) =>
    create(ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse,
    });
  const notFound = (what: string) =>
    reply({ case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } });
  const files = (file: DescFile | undefined, what: string) =>
    file
      ? reply({ case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file) } })
      : notFound(what);

  const { messageRequest } = request;
  switch (messageRequest.case) {
    case "listServices":
      return reply({
        case: "listServicesResponse",
        value: { service: index.services.map((name) => ({ name })) },
      });
    case "fileByFilename":
      return files(index.byName.get(messageRequest.value), `file "${messageRequest.value}"`);
    case "fileContainingSymbol":
      return files(index.bySymbol.get(messageRequest.value), `symbol "${messageRequest.value}"`);
    case "fileContainingExtension":
      return notFound(
        `extension ${messageRequest.value.extensionNumber} of "${messageRequest.value.containingType}"`,
      );
    case "allExtensionNumbersOfType":
      return index.bySymbol.has(messageRequest.value)
        ? reply({
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: messageRequest.value, extensionNumber: [] },
          })
        : notFound(`type "${messageRequest.value}"`);
    default:
      return reply({
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "no message_request set" },
      });
  }
}

/** The file and everything it imports, each serialized once, the asked-for file first. */
function withDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const add = (current: DescFile) => {
    if (seen.has(current.proto.name)) return;
    seen.add(current.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, current.proto));
    current.dependencies.forEach(add);
  };
  add(file);
  return out;
}
