#!/usr/bin/env python3
"""Streams a chat answer from NOA over gRPC with the generated Python stubs in gen/.

    NOA_URL=http://localhost:8080 NOA_API_KEY=noa_... python3 examples/python/noa_chat.py "Hello"

Needs the grpcio and protobuf (>= 3.20) packages (Debian: apt-get install python3-grpcio python3-protobuf).
Exit codes: 0 answered, 1 the server failed or could not be reached, 3 the key was refused, 4 no such model.
"""

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent / "gen"))

import grpc  # noqa: E402
from noa.inference.v1 import (  # noqa: E402
    inference_pb2,
    inference_pb2_grpc,
    model_pb2,
    model_pb2_grpc,
)

EXIT_CODES = {
    grpc.StatusCode.UNAUTHENTICATED: 3,
    grpc.StatusCode.PERMISSION_DENIED: 3,
    grpc.StatusCode.NOT_FOUND: 4,
}


def open_channel(url: str) -> grpc.Channel:
    """A channel to NOA's one port: h2c for http:// URLs, TLS for https:// ones."""
    parsed = urlparse(url)
    if parsed.scheme == "https":
        return grpc.secure_channel(f"{parsed.hostname}:{parsed.port or 443}", grpc.ssl_channel_credentials())
    return grpc.insecure_channel(f"{parsed.hostname}:{parsed.port or 80}")


def main() -> int:
    parser = argparse.ArgumentParser(description="Stream one answer from NOA.")
    parser.add_argument("prompt", nargs="?", default="Hello")
    parser.add_argument("--model", help="model id or alias; default: the server's first model")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--url", default=os.environ.get("NOA_URL", "http://localhost:8080"))
    args = parser.parse_args()
    metadata = [("authorization", f"Bearer {os.environ.get('NOA_API_KEY', '')}")]

    with open_channel(args.url) as channel:
        models = model_pb2_grpc.ModelServiceStub(channel)
        inference = inference_pb2_grpc.InferenceServiceStub(channel)
        try:
            model = args.model
            if not model:
                listed = models.ListModels(model_pb2.ListModelsRequest(), metadata=metadata, timeout=10)
                model = listed.models[0].id
            request = inference_pb2.StreamCompleteRequest(
                model=model,
                messages=[inference_pb2.Message(role=inference_pb2.ROLE_USER, content=args.prompt)],
                max_tokens=args.max_tokens,
            )
            # A deadline for the whole stream; cancelling the call (or Ctrl-C) stops the generation.
            for part in inference.StreamComplete(request, metadata=metadata, timeout=300):
                print(part.text, end="", flush=True)
                if part.finish_reason:
                    usage = part.usage
                    reason = inference_pb2.FinishReason.Name(part.finish_reason)
                    print()
                    print(
                        f"[{part.model} · {usage.prompt_tokens} prompt + {usage.completion_tokens} completion"
                        f" tokens · ${part.cost_usd:.6f} · {reason} · id {part.id}]",
                        file=sys.stderr,
                    )
        except grpc.RpcError as error:
            # The server's message names the correlation id to quote when asking for help.
            print(f"error: {error.details()} [{error.code().name.lower()}]", file=sys.stderr)
            return EXIT_CODES.get(error.code(), 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
