"""Exports load as TF Serving loads them and answer exactly like the in-process generator."""

import io
import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasgan.commands import client
from kerasgan.errors import UserError
from kerasgan.export import export_generator, export_translator, next_version
from kerasgan.images import to_uint8
from kerasgan.nets.dcgan import build_generator


def tiny_translator():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    return keras.Model(inputs, keras.layers.Activation("tanh")(x))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    keras.utils.set_random_seed(0)
    generator = build_generator(64, noise_dim=8, width=8)
    translator = tiny_translator()
    g_path = export_generator(generator, root, "gen", {"step": 3})
    t_path = export_translator(translator, root, "x2y", image_size=64)
    return root, generator, translator, g_path, t_path


# TensorFlow 2.21 imports keras itself; the script then unloads it and blocks any import of
# keras or kerasgan, so the SavedModels must run on TensorFlow alone, as in TF Serving.
FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("keras", "kerasgan"):
                raise ImportError("blocked " + name)

    sys.meta_path.insert(0, Block())
    for module in [m for m in sys.modules if m.split(".")[0] in ("keras", "kerasgan")]:
        del sys.modules[module]
    data = np.load(sys.argv[3])
    gen = tf.saved_model.load(sys.argv[1])
    trans = tf.saved_model.load(sys.argv[2])
    out = {
        "noise": gen.signatures["serving_default"](noise=tf.constant(data["noise"]))["images"].numpy(),
        "generated": gen.signatures["generate"](batch_size=tf.constant(3), seed=tf.constant(7, tf.int64))["images"].numpy(),
        "translated": trans.signatures["serving_default"](images=tf.constant(data["images"]))["images"].numpy(),
        "odd": trans.signatures["serving_default"](images=tf.constant(data["odd"]))["images"].numpy(),
        "encoded": trans.signatures["translate_encoded"](images=tf.constant([data["png"].tobytes()]))["images"].numpy()[0],
    }
    np.savez(sys.argv[4], **out)
    print(json.dumps({"keras": "keras" in sys.modules, "kerasgan": "kerasgan" in sys.modules}))
""")


def test_exports_answer_in_a_fresh_process_without_keras_bit_for_bit(exported, tmp_path):
    root, generator, translator, g_path, t_path = exported
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((4, 8)).astype(np.float32)
    images = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    odd = rng.integers(0, 256, (1, 30, 42, 3), dtype=np.uint8)
    png = io.BytesIO()
    Image.fromarray(images[0]).save(png, format="PNG")
    np.savez(tmp_path / "in.npz", noise=noise, images=images, odd=odd,
             png=np.frombuffer(png.getvalue(), np.uint8))
    script = tmp_path / "serve.py"
    script.write_text(FRESH_PROCESS)
    result = subprocess.run([sys.executable, str(script), str(g_path), str(t_path), str(tmp_path / "in.npz"),
                             str(tmp_path / "out.npz")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"keras": False, "kerasgan": False}
    out = np.load(tmp_path / "out.npz")

    expected = to_uint8(generator(noise, training=False))
    np.testing.assert_array_equal(out["noise"], expected)
    assert out["generated"].shape == (3, 64, 64, 3) and out["generated"].dtype == np.uint8
    translated = to_uint8(translator(images.astype(np.float32) / 127.5 - 1.0, training=False))
    np.testing.assert_array_equal(out["translated"], translated)
    assert out["odd"].shape == (1, 30, 42, 3)  # resized to the training size and back
    decoded = np.asarray(Image.open(io.BytesIO(out["encoded"].tobytes())))
    np.testing.assert_array_equal(decoded, translated[0])


def test_signatures_have_readable_names_dtypes_and_shapes(exported):
    _, _, _, g_path, t_path = exported
    gen = tf.saved_model.load(str(g_path))
    default = gen.signatures["serving_default"]
    noise_spec = default.structured_input_signature[1]["noise"]
    assert noise_spec.dtype == tf.float32 and noise_spec.shape.as_list() == [None, 8]
    assert list(default.structured_outputs) == ["images"]
    assert default.structured_outputs["images"].dtype == tf.uint8
    generate_inputs = gen.signatures["generate"].structured_input_signature[1]
    assert generate_inputs["batch_size"].dtype == tf.int32 and generate_inputs["seed"].dtype == tf.int64
    trans = tf.saved_model.load(str(t_path))
    assert set(trans.signatures) == {"serving_default", "translate_encoded"}
    assert trans.signatures["translate_encoded"].structured_input_signature[1]["images"].dtype == tf.string


def test_saved_model_cli_lists_the_signatures(exported):
    _, _, _, g_path, _ = exported
    cli = str(Path(sys.executable).parent / "saved_model_cli")
    result = subprocess.run([cli, "show", "--dir", str(g_path), "--all"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for text in ("signature_def['serving_default']", "signature_def['generate']", "inputs['noise']",
                 "outputs['images']", "dtype: DT_UINT8"):
        assert text in result.stdout


def test_wrong_dtype_or_shape_is_refused(exported):
    _, _, _, g_path, _ = exported
    default = tf.saved_model.load(str(g_path)).signatures["serving_default"]
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        default(noise=tf.zeros((2, 8), tf.int32))
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        default(noise=tf.zeros((2, 9)))


def test_versions_are_never_overwritten_and_metadata_is_written(exported):
    root, generator, _, g_path, _ = exported
    assert g_path.name == "1"
    assert json.loads((g_path / "assets.extra" / "kerasgan.json").read_text())["step"] == 3
    assert next_version(root / "gen") == 2
    second = export_generator(generator, root, "gen")
    assert second.name == "2" and (g_path / "saved_model.pb").exists()
    with pytest.raises(UserError, match="never overwritten"):
        export_generator(generator, root, "gen", version=1)


def test_models_config_is_a_model_server_config(exported):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    root = exported[0]
    config = text_format.Parse((root / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    models = {c.name: c for c in config.model_config_list.config}
    assert set(models) == {"gen", "x2y"}
    assert models["gen"].base_path == "/models/gen" and models["gen"].model_platform == "tensorflow"


def test_rest_bodies_follow_the_tf_serving_api():
    assert client.rest_body({"batch_size": np.int32(2), "seed": np.int64(5)}, "generate") == {
        "signature_name": "generate", "inputs": {"batch_size": 2, "seed": 5}}
    noise = np.array([[0.5, -1.0], [0.0, 2.0]], np.float32)
    assert client.rest_body({"noise": noise}, format="row") == {
        "signature_name": "serving_default", "instances": [{"noise": [0.5, -1.0]}, {"noise": [0.0, 2.0]}]}
    body = client.rest_body({"images": [b"\x89PNG", b"abc"]}, "translate_encoded", format="row")
    assert body["instances"] == [{"images": {"b64": "iVBORw=="}}, {"images": {"b64": "YWJj"}}]
    with pytest.raises(ValueError, match="scalar"):
        client.rest_body({"seed": np.int64(1)}, format="row")


def test_client_decodes_row_and_columnar_responses():
    columnar = client.decode_rest_response({"outputs": {"images": [[[[1, 2, 3]]]]}})
    assert columnar["images"].shape == (1, 1, 1, 3)
    row = client.decode_rest_response({"predictions": [{"images": {"b64": "YWJj"}}]})
    assert row["images"] == [b"abc"]
    with pytest.raises(UserError, match="refused"):
        client.decode_rest_response({"error": "bad input"})


def test_client_reports_a_server_that_is_down():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UserError, match=f"no TF Serving REST API at 127.0.0.1:{port}"):
        client.rest_predict("127.0.0.1", port, "gen", {"inputs": {}}, timeout=5)


class StandInServer:
    """TF Serving's REST predict API (columnar "inputs" bodies) over a SavedModel, on loopback."""

    def __init__(self, model_dir):
        import http.server
        import threading

        loaded = tf.saved_model.load(str(model_dir))
        self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler):  # noqa: N802
                body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
                self.bodies.append(body)
                signature = loaded.signatures[body["signature_name"]]
                specs = signature.structured_input_signature[1]
                inputs = {k: tf.constant(v, specs[k].dtype) for k, v in body["inputs"].items()}
                reply = json.dumps({"outputs": {k: v.numpy().tolist() for k, v in signature(**inputs).items()}})
                handler.send_response(200)
                handler.end_headers()
                handler.wfile.write(reply.encode())

            def log_message(handler, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_client_asks_a_conditional_export_for_the_given_labels(tmp_path):
    from kerasgan.export import export_conditional_generator
    from kerasgan.nets.conditional import build_conditional_dcgan_generator

    label_names = {"shape": ["circle", "square", "triangle"], "color": ["red", "blue"]}
    generator = build_conditional_dcgan_generator({"shape": 3, "color": 2}, 16, noise_dim=8, embed_dim=2, width=4)
    export = export_conditional_generator(generator, tmp_path / "exports", "cond", label_names)
    server = StandInServer(export)
    try:
        client.main(["--model", "cond", "--port", str(server.port), "--num", "3", "--seed", "4",
                     "--labels", "shape=2, color=1", "--output", str(tmp_path / "out")])
    finally:
        server.close()
    (body,) = server.bodies
    assert body == {"signature_name": "generate",
                    "inputs": {"batch_size": 3, "seed": 4, "shape": 2, "color": 1}}
    expected = tf.saved_model.load(str(export)).signatures["generate"](
        batch_size=tf.constant(3), seed=tf.constant(4, tf.int64), shape=tf.constant(2), color=tf.constant(1))
    saved = [np.asarray(Image.open(tmp_path / "out" / f"sample_{i:03d}.png")) for i in range(3)]
    np.testing.assert_array_equal(np.stack(saved), expected["images"].numpy())
    with pytest.raises(UserError, match="class ids"):
        client.parse_labels("shape=triangle")


def test_reexport_from_a_run_checkpoint_matches_the_training_export(tiny_args, tmp_path):
    from kerasgan.commands import train_gan as train_dcgan
    from kerasgan.commands.export import export_run

    run = train_dcgan.main(tiny_args + ["--steps", "2"])
    trained = tmp_path / "exports" / run.root.name / "1"
    (again,) = export_run(run.root, "latest", tmp_path / "exports")
    assert again == tmp_path / "exports" / run.root.name / "2"
    assert json.loads((again / "assets.extra" / "kerasgan.json").read_text())["checkpoint"] == "latest"
    noise = tf.random.normal((3, 16), seed=1)
    outputs = [tf.saved_model.load(str(p)).signatures["serving_default"](noise=noise)["images"].numpy()
               for p in (trained, again)]
    np.testing.assert_array_equal(*outputs)
    with pytest.raises(UserError, match="no best checkpoint"):
        export_run(run.root, "best", tmp_path / "exports")
