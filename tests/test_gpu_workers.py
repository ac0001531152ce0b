"""`--workers N` on GPUs: round-robin placement, several workers per GPU when N is larger,
and the memory limits each worker sharing a GPU gets (a faked GPU list, no GPU needed)."""

from __future__ import annotations

from suite.workers import GPU_MEMORY_SHARE, memory_env, placement, worker_env


def test_workers_go_round_robin_over_the_gpus_and_share_them_when_more() -> None:
    assert placement(3, ["0", "1"]) == ["0", "1", "0"]
    assert placement(4, ["3"]) == ["3"] * 4
    assert placement(2, []) == [None, None]


def test_a_worker_alone_on_its_gpu_keeps_the_libraries_defaults() -> None:
    env = worker_env(1, ["0", "1"], workers=2, base={})
    assert env == {"SUITE_WORKER": "1", "CUDA_VISIBLE_DEVICES": "1", "SUITE_GPU_SHARED_BY": "1"}


def test_workers_sharing_a_gpu_are_limited_to_their_share_of_its_memory() -> None:
    envs = [worker_env(i, ["5"], workers=4, base={"PATH": "/bin"}) for i in range(4)]
    for i, env in enumerate(envs):
        assert env["SUITE_WORKER"] == str(i) and env["PATH"] == "/bin"
        assert env["CUDA_VISIBLE_DEVICES"] == "5" and env["SUITE_GPU_SHARED_BY"] == "4"
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert float(env["XLA_PYTHON_CLIENT_MEM_FRACTION"]) * 4 <= GPU_MEMORY_SHARE
        assert float(env["XLA_PYTHON_CLIENT_MEM_FRACTION"]) >= 0.2
    # 3 workers on 2 GPUs: two share GPU 0, the third has GPU 1 to itself
    envs = [worker_env(i, ["0", "1"], workers=3, base={}) for i in range(3)]
    assert [e["SUITE_GPU_SHARED_BY"] for e in envs] == ["2", "1", "2"]
    assert envs[0]["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.45"
    assert "XLA_PYTHON_CLIENT_MEM_FRACTION" not in envs[1]


def test_the_users_own_memory_settings_win() -> None:
    base = {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.1", "TF_FORCE_GPU_ALLOW_GROWTH": "false"}
    env = worker_env(0, ["0"], workers=2, base=base)
    assert env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.1"
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "false"
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"


def test_without_gpus_workers_get_no_device_settings() -> None:
    env = worker_env(2, [], workers=4, base={})
    assert env == {"SUITE_WORKER": "2"}
    assert memory_env(1) == {}
