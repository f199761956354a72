"""A TF Serving client for kerasgan exports, over REST (JSON) or gRPC.

    kerasgan client --model dcgan_shapes_32 --num 16 --output samples/
    kerasgan client --model cyclegan_x2y --input photos/ --output translated/
    kerasgan client --model dcgan_shapes_32 --protocol grpc --port 8500 --output out/
    kerasgan client --model cdcgan_shapes_32 --labels shape=2,color=0 --output out/

Generators are asked through their `generate` signature (batch size, seed and, for
conditional exports, one class id per attribute; no noise to send); translators through
`translate_encoded` (the files' own bytes, base64 in JSON).
"""

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from kerasgan.commands import common as cli
from kerasgan.errors import UserError


# -- REST ------------------------------------------------------------------------------
def _to_json(value):
    """numpy/bytes -> JSON values; bytes become {"b64": ...} as TF Serving's REST API wants."""
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    value = np.asarray(value)
    if value.dtype.kind in "SO":
        return [_to_json(v) for v in value.tolist()] if value.ndim else _to_json(value.item())
    return value.tolist()


def rest_body(inputs, signature="serving_default", format="columnar"):
    """The JSON body of a TF Serving predict request.

    `inputs` maps input names to arrays whose first axis is the batch (scalars only in the
    columnar format). Row format: {"instances": [{name: value, ...} per example]};
    columnar format: {"inputs": {name: batched value}}.
    """
    if format == "columnar":
        return {"signature_name": signature, "inputs": {k: _to_json(v) for k, v in inputs.items()}}
    if format != "row":
        raise ValueError(f"format must be row or columnar, not {format!r}")
    if any(np.ndim(v) == 0 for v in inputs.values() if not isinstance(v, (list, tuple))):
        raise ValueError("row format has no place for scalar inputs: use the columnar format")
    columns = {k: list(v) for k, v in inputs.items()}  # each input split into its examples
    batch = {len(v) for v in columns.values()}
    if len(batch) != 1:
        raise ValueError(f"row format needs equal batch sizes, got {sorted(batch)}")
    instances = [{k: _to_json(v[i]) for k, v in columns.items()} for i in range(batch.pop())]
    return {"signature_name": signature, "instances": instances}


def _from_json(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def decode_rest_response(response):
    """A predict response (row or columnar) -> {output name: numpy array or list of bytes}."""
    if "error" in response:
        raise UserError(f"TF Serving refused the request: {response['error']}")
    if "outputs" in response:
        outputs = response["outputs"]
        if not isinstance(outputs, dict):
            outputs = {"output": outputs}
    elif "predictions" in response:
        rows = response["predictions"]
        if rows and isinstance(rows[0], dict):
            outputs = {k: [row[k] for row in rows] for k in rows[0]}
        else:
            outputs = {"output": rows}
    else:
        raise UserError(f"not a TF Serving predict response: keys {sorted(response)}")
    decoded = {}
    for name, value in outputs.items():
        value = _from_json(value)
        is_bytes = isinstance(value, list) and value and isinstance(value[0], bytes)
        decoded[name] = value if is_bytes else np.asarray(value)
    return decoded


def rest_predict(host, port, model, body, version=None, timeout=60):
    """POSTs `body` to TF Serving's REST predict endpoint and decodes the answer."""
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "") + ":predict"
    request = urllib.request.Request(f"http://{host}:{port}{path}", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    not_serving = (f"{host}:{port} answered, but not as TF Serving's REST API: check --port (TF Serving's REST "
                   "port is 8501, gRPC 8500) and --host")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        detail = _serving_error(error.read().decode(errors="replace"))
        if detail is None:
            raise UserError(f"{not_serving} (HTTP {error.code})") from None
        if error.code == 404:
            raise UserError(f"model {model!r} is not served at {host}:{port} ({detail}); "
                            "check --model and the server's models.config") from None
        raise UserError(f"TF Serving answered {error.code}: {detail}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        raise UserError(f"no TF Serving REST API at {host}:{port} ({getattr(error, 'reason', error)}); "
                        "start the server (see README, Serving) or check --host/--port") from None
    try:
        response = json.loads(text)
    except ValueError:
        raise UserError(not_serving) from None
    if not isinstance(response, dict):
        raise UserError(not_serving)
    return decode_rest_response(response)


def _serving_error(text):
    """TF Serving's error message from an error body ({"error": ...}), or None when the body is
    not TF Serving's (an HTML page from another web server, say)."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if isinstance(body, dict) and "error" in body:
        return " ".join(str(body["error"]).split())
    return None


# -- gRPC ------------------------------------------------------------------------------
def grpc_request(model, inputs, signature="serving_default", version=None):
    """A tensorflow_serving PredictRequest with one TensorProto per named input."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def grpc_predict(host, port, request, timeout=60):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(f"{host}:{port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                raise UserError(f"no TF Serving gRPC API at {host}:{port}; start the server "
                                "(see README, Serving) or check --host/--port") from None
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise UserError(f"model {request.model_spec.name!r} is not served at {host}:{port}") from None
            raise UserError(f"TF Serving refused the request: {error.details()}") from None
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


# -- the command -------------------------------------------------------------------------
def save_images(images, folder, names):
    """Writes uint8 arrays or encoded PNG bytes as folder/<name>.png."""
    import io

    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for image, name in zip(images, names):
        path = folder / f"{name}.png"
        if isinstance(image, (bytes, np.bytes_)):
            Image.open(io.BytesIO(bytes(image))).save(path)
        else:
            Image.fromarray(np.asarray(image, np.uint8)).save(path)
        paths.append(path)
    return paths


def parse_labels(text):
    """"shape=2,color=0" -> {"shape": int32 2, "color": int32 0} for a conditional export."""
    labels = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, value = item.partition("=")
        try:
            labels[name.strip()] = np.int32(int(value))
        except ValueError:
            raise UserError(f"--labels takes class ids, as in shape=2,color=0, not {item!r} "
                            "(the export's assets.extra/kerasgan.json lists the classes in id order)") from None
    return labels


def build_parser(prog="kerasgan client"):
    parser = cli.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the model name TF Serving serves")
    parser.add_argument("--version", type=int, default=None)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=None, help="default 8501 (REST) or 8500 (gRPC)")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--format", choices=("row", "columnar"), default="columnar", help="REST body format")
    parser.add_argument("--input", default=None, help="an image or a folder: translate it (CycleGAN exports)")
    parser.add_argument("--num", type=cli.positive_int, default=8, help="images to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labels", default=None, metavar="ATTR=ID,...",
                        help="class ids for a conditional export, one per attribute (e.g. shape=2,color=0)")
    parser.add_argument("--output", required=True, help="folder for the returned images")
    return parser


def main(argv=None, prog="kerasgan client"):
    args = build_parser(prog).parse_args(argv)
    port = args.port or (8501 if args.protocol == "rest" else 8500)
    if args.input:
        from kerasgan.data.folder import list_images

        source = Path(args.input)
        files = [source] if source.is_file() else list_images(source)
        signature, names = "translate_encoded", [f.stem for f in files]
        inputs = {"images": [f.read_bytes() for f in files]}
    else:
        signature, names = "generate", [f"sample_{i:03d}" for i in range(args.num)]
        inputs = {"batch_size": np.int32(args.num), "seed": np.int64(args.seed), **parse_labels(args.labels)}
    if args.protocol == "grpc":
        grpc_inputs = {k: (np.array(v, dtype=object) if isinstance(v, list) else v) for k, v in inputs.items()}
        outputs = grpc_predict(args.host, port, grpc_request(args.model, grpc_inputs, signature, args.version))
    else:
        row_ok = args.format == "row" and args.input
        body = rest_body(inputs, signature, "row" if row_ok else "columnar")
        outputs = rest_predict(args.host, port, args.model, body, args.version)
    for path in save_images(outputs["images"], args.output, names):
        print(path)

