"""Dataset generation at scale: local worker processes, crashes, kill -9, shards, Ray. Real renders (32 x 32)."""

import ipaddress
import json
import os
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, images, run_cli, wait_for_images

COUNT = 16
# Tiny renders with the project's default denoising (OpenImageDenoise), so workers run the real path.
SMALL = ("--resolution", "32", "--samples", "2", "--seed", "3")


def pixels(folder, index):
    return np.asarray(Image.open(os.path.join(folder, f"sample_{index}.png")).convert("RGB")).astype(np.int16)


def temporaries(folder):
    return [os.path.join(d, n) for d, _, names in os.walk(folder) for n in names if n.endswith(".partial")]


def worker_pids(parent_pid):
    """Render worker processes whose parent is ``parent_pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        if ppid == parent_pid and b"render-worker" in command:
            found.append(int(entry))
    return found


def assert_consistent(folder, count):
    """Every image there, decodable, tables list exactly them in order, card complete, no temporaries."""
    assert images(folder) == sorted(f"sample_{i}.png" for i in range(1, count + 1))
    for i in range(1, count + 1):
        assert pixels(folder, i).shape == (32, 32, 3)
    metadata = json.loads(open(os.path.join(folder, "metadata.json")).read())
    assert list(metadata) == [f"sample_{i}" for i in range(1, count + 1)]
    with open(os.path.join(folder, "vectors.csv")) as handle:
        assert len(handle.read().splitlines()) == count + 1
    card = json.loads(open(os.path.join(folder, "dataset.json")).read())
    assert card["complete"] is True and card["finished"] == count
    assert not temporaries(folder)
    return metadata, card


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The reference: the same dataset rendered in one process."""
    out = str(tmp_path_factory.mktemp("serial") / "ds")
    done = run_cli("generate", "--out", out, "--count", str(COUNT), *SMALL, "--workers", "1")
    assert done.returncode == 0, done.stderr
    return out


def test_workers_render_the_same_dataset_as_one_process(serial, tmp_path):
    out = str(tmp_path / "parallel")
    done = run_cli("generate", "--out", out, "--count", str(COUNT), *SMALL, "--workers", "2", "--recycle-every", "5")
    assert done.returncode == 0, done.stderr
    assert "2 workers" in done.stdout
    metadata, card = assert_consistent(out, COUNT)
    assert metadata == json.loads(open(os.path.join(serial, "metadata.json")).read())
    assert card["render"]["workers"] == 2 and card["render"]["threads_per_worker"] >= 1
    assert card["identity"]["denoiser"] == "oidn" and card["identity"]["denoise_quality"] == "FAST"
    assert card["render"]["device"] == "CPU"
    # 16 images, a fresh process every 5: at least 4 processes were started in all.
    assert card["render"]["worker_processes_started"] >= 4
    for i in range(1, COUNT + 1):  # same vector and noise seed: the same picture (denoiser rounding aside)
        assert np.abs(pixels(out, i) - pixels(serial, i)).max() <= 2, f"sample {i} differs"


def test_a_killed_worker_is_replaced_and_its_sample_rendered(tmp_path):
    out = str(tmp_path / "one-killed")
    process = subprocess.Popen(
        [sys.executable, "-m", "blendercnn_addon", "generate", "--out", out, "--count", "40", *SMALL,
         "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_images(out, 3)
    victims = worker_pids(process.pid)
    assert len(victims) == 2, victims
    os.kill(victims[0], signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "1 restarted after a crash" in stdout
    _, card = assert_consistent(out, 40)
    assert card["render"]["worker_restarts_after_crash"] == 1


@pytest.mark.compat
def test_kill_9_of_the_whole_run_then_the_same_command_completes_it(serial, tmp_path):
    out = str(tmp_path / "killed")
    command = [sys.executable, "-m", "blendercnn_addon", "generate", "--out", out, "--count", str(COUNT), *SMALL,
               "--workers", "2"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_images(out, 4)
    workers = worker_pids(process.pid)
    process.send_signal(signal.SIGKILL)  # the coordinator dies; its workers must follow it
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in workers):
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers), "orphaned render workers"
    before = {name: os.stat(os.path.join(out, name)).st_mtime_ns for name in images(out)}
    assert 4 <= len(before) < COUNT, f"kill came too late ({len(before)} images)"

    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{COUNT - len(before)} rendered now, {len(before)} already there" in again.stdout
    after = {name: os.stat(os.path.join(out, name)).st_mtime_ns for name in images(out)}
    assert {name: after[name] for name in before} == before, "finished images were rendered again"
    assert_consistent(out, COUNT)
    for table in ("metadata.json", "vectors.csv"):
        assert open(os.path.join(out, table), "rb").read() == open(os.path.join(serial, table), "rb").read()


def test_shards_running_at_once_fill_one_folder(serial, tmp_path):
    out = str(tmp_path / "sharded")
    shards = [subprocess.Popen([sys.executable, "-m", "blendercnn_addon", "generate", "--out", out, "--count",
                                str(COUNT), *SMALL, "--workers", "1", "--shard", f"{i}/2"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    results = [shard.communicate(timeout=300) for shard in shards]
    for shard, (stdout, stderr) in zip(shards, results):
        assert shard.returncode == 0, stderr
        assert "8/8 samples (8 rendered now" in stdout, stdout
    assert images(out) == images(serial)
    # Running the command without --shard afterwards renders nothing and leaves complete tables.
    merged = run_cli("generate", "--out", out, "--count", str(COUNT), *SMALL, "--workers", "1")
    assert merged.returncode == 0 and "0 rendered now" in merged.stdout
    assert_consistent(out, COUNT)
    for table in ("metadata.json", "vectors.csv"):
        assert open(os.path.join(out, table), "rb").read() == open(os.path.join(serial, table), "rb").read()


def test_a_new_folder_holds_its_card_before_any_other_file(tmp_path):
    """A shard starting at the same moment as another must find a dataset, never files without a card
    (it would refuse them as foreign). Watched by listing the folder as fast as possible while a shard
    starts into it: every listing that shows a visible file shows dataset.json too."""
    out = tmp_path / "ds"
    process = subprocess.Popen([sys.executable, "-m", "blendercnn_addon", "generate", "--out", str(out), "--count",
                                "2", *SMALL, "--workers", "1", "--shard", "0/2"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    without_card, listings = set(), 0
    while process.poll() is None:
        try:
            names = {name for name in os.listdir(out) if not name.startswith(".")}
        except FileNotFoundError:
            continue
        listings += 1
        if names and "dataset.json" not in names:
            without_card |= names
    assert process.returncode == 0, process.stderr.read()
    assert listings > 100, "the folder was hardly watched"
    assert not without_card, f"{sorted(without_card)} appeared before dataset.json"


@pytest.mark.parametrize("args, message", [
    (("--shard", "2/2"), "shard I/N needs 0 <= I < N"),
    (("--shard", "one/two"), "expected I/N"),
    (("--workers", "0"), "workers must be between 1 and 64"),
    (("--recycle-every", "0"), "recycle-every must be at least 1"),
    (("--device", "TPU"), "invalid choice: 'TPU'"),
])
def test_bad_scale_options_get_one_readable_line(tmp_path, args, message):
    done = run_cli("generate", "--out", str(tmp_path / "x"), "--count", "2", *SMALL, *args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "x").exists()


def test_a_missing_gpu_falls_back_to_the_cpu_with_a_note(tmp_path):
    out = str(tmp_path / "gpu")
    done = run_cli("generate", "--out", out, "--count", "2", *SMALL, "--workers", "1", "--device", "OPTIX")
    assert done.returncode == 0, done.stderr
    assert "note: no OPTIX GPU found: rendering on the CPU" in done.stderr
    card = json.loads(open(os.path.join(out, "dataset.json")).read())
    assert (card["render"]["device"], card["render"]["device_requested"]) == ("CPU", "OPTIX")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ray start exited with code {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the Ray head did not listen on port {port} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A real local Ray cluster with token authentication, made as the guide's Ray section says (docs/guide.md).

    Yields (address, environment a driver needs). Hermetic: HOME is a temporary folder, so the
    token Ray generates (~/.ray/auth_token) lands there, never in the user's home; the cluster
    keeps its session files in its own temporary folder; and teardown stops exactly this cluster
    (its ``ray start --block`` process and that process's group), not every Ray on the machine.
    """
    pytest.importorskip("ray")
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    home = tmp_path_factory.mktemp("ray-home")
    session_dir = tempfile.mkdtemp(prefix="bcnn-ray-", dir="/tmp")  # short: Ray's sockets live in it
    # As the guide's steps: token mode, and Ray's single-machine mode (every process on 127.0.0.1).
    env = {"HOME": str(home), "RAY_AUTH_MODE": "token", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_USAGE_STATS_ENABLED": "0"}
    full_env = {**os.environ, **env}
    made = subprocess.run([ray_cli, "get-auth-token", "--generate"], capture_output=True, text=True,
                          timeout=120, env=full_env)
    assert made.returncode == 0 and (home / ".ray" / "auth_token").is_file(), made.stderr
    port = _free_port()
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                             "--port", str(port), "--num-cpus", "2", "--include-dashboard", "false",
                             "--disable-usage-stats", "--temp-dir", session_dir],
                            env=full_env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, head)
        yield f"127.0.0.1:{port}", env
    finally:
        head.send_signal(signal.SIGTERM)  # ray start --block stops its own processes on SIGTERM
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # anything of this cluster still running
        except ProcessLookupError:
            pass
        shutil.rmtree(session_dir, ignore_errors=True)


def test_an_unreachable_ray_cluster_is_one_readable_line(tmp_path):
    pytest.importorskip("ray")
    done = run_cli("generate", "--out", str(tmp_path / "x"), "--count", "2", *SMALL, "--backend", "ray",
                   "--ray-address", f"127.0.0.1:{_free_port()}", timeout=300)
    assert done.returncode == 2
    assert "cannot reach the Ray cluster" in done.stderr.strip().splitlines()[-1], done.stderr[-500:]
    assert not os.path.exists(tmp_path / "x" / "sample_1.png")


def test_ray_backend_completes_a_partly_rendered_dataset(serial, ray_cluster, tmp_path):
    address, ray_env = ray_cluster
    out = str(tmp_path / "ray")
    first = run_cli("generate", "--out", out, "--count", str(COUNT), *SMALL, "--workers", "1", "--shard", "0/4")
    assert first.returncode == 0, first.stderr  # a quarter rendered here, the rest on the cluster
    done = run_cli("generate", "--out", out, "--count", str(COUNT), *SMALL, "--backend", "ray",
                   "--ray-address", address, "--workers", "2", "--recycle-every", "4", timeout=600, env=ray_env)
    assert done.returncode == 0, done.stderr
    assert f"{COUNT - COUNT // 4} rendered now, {COUNT // 4} already there" in done.stdout
    assert "2 Ray actors" in done.stdout
    metadata, card = assert_consistent(out, COUNT)
    assert card["render"]["backend"] == "ray (2 actors)"
    assert metadata == json.loads(open(os.path.join(serial, "metadata.json")).read())
    for i in range(1, COUNT + 1):
        assert np.abs(pixels(out, i) - pixels(serial, i)).max() <= 2, f"sample {i} differs"


def _descendants(root_pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [root_pid]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


def _ip_from_proc(hex_address):
    """The IP of a /proc/net/tcp{,6} local address (little-endian 32-bit words)."""
    words = [bytes.fromhex(hex_address[i:i + 8])[::-1] for i in range(0, len(hex_address), 8)]
    return str(ipaddress.ip_address(b"".join(words)))


def listening_ips(root_pid):
    """IP addresses that ``root_pid`` and its descendants listen on (TCP), from /proc."""
    inodes = set()
    for pid in _descendants(root_pid):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    ips = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ips.add(_ip_from_proc(fields[1].split(":")[0]))
    return ips


def is_loopback(ip):
    address = ipaddress.ip_address(ip)
    return address.is_loopback or (address.version == 6 and address.ipv4_mapped is not None
                                   and address.ipv4_mapped.is_loopback)


@pytest.mark.faults
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads listening sockets from /proc")
def test_a_local_ray_cluster_listens_on_127_0_0_1_only_and_writes_no_token_into_home(tmp_path):
    pytest.importorskip("ray")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "blendercnn_addon", "generate", "--out", str(tmp_path / "ds"),
                                "--count", "6", *SMALL, "--backend", "ray", "--workers", "1"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = set()
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        seen |= listening_ips(process.pid)
        time.sleep(0.5)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-2000:]
    assert seen, "the local cluster was never seen listening"
    assert all(is_loopback(ip) for ip in seen), f"listening beyond this machine: {sorted(seen)}"
    assert not (home / ".ray").exists(), "Ray wrote into the user's home folder"


def test_a_command_without_the_clusters_token_is_refused_before_anything_is_written(ray_cluster, tmp_path):
    address, ray_env = ray_cluster
    out = tmp_path / "ds"
    stranger = tmp_path / "stranger-home"
    stranger.mkdir()
    done = run_cli("generate", "--out", str(out), "--count", "2", *SMALL, "--backend", "ray",
                   "--ray-address", address, env={**ray_env, "HOME": str(stranger)}, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused this command's token" in lines[0], done.stderr[-2000:]
    assert not out.exists()
