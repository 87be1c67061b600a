"""The ami_worker process (SIGTERM/SIGINT, --record) and the leader lock against a real Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from connector.ami.trace import read_trace
from connector.leader import NoLock, RedisLock, leader_lock
from tests.fakeami import FakeAMI

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "proc-secret-4f1a"


async def in_db(fn):
    """Run a query on a thread of its own, and close that thread's connection (the test database is dropped later)."""
    from django.db import connection

    def run():
        try:
            return fn()
        finally:
            connection.close()

    return await asyncio.to_thread(run)


async def start_worker(
    env: dict[str, str], *args: str, stdout: int | None = None, stderr: int | None = None
) -> asyncio.subprocess.Process:
    """``manage.py ami_worker`` with ``args`` as a process of its own, run from the project root."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "manage.py", "ami_worker", *args, cwd=ROOT, env=env, stdout=stdout, stderr=stderr
    )


async def kill_if_running(process: asyncio.subprocess.Process) -> None:
    """Kill a worker process a test left running (a failed assertion, a timeout) and reap it."""
    if process.returncode is None:
        process.kill()
        await process.wait()


def worker_env(ami: FakeAMI, **extra: str) -> dict[str, str]:
    from django.db import connection

    db = connection.settings_dict  # the test database, which the worker process must share
    if not db["ENGINE"].endswith("postgresql"):
        pytest.skip("the worker process shares the test database: these tests need PostgreSQL (DATABASE_URL)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTERISK_", "REDIS_URL"))}
    auth = quote(db["USER"] or "postgres") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env.update(
        DATABASE_URL=url,
        ASTERISK_URL="127.0.0.1",
        ASTERISK_PORT=str(ami.port),
        ASTERISK_USER_NAME="terrasoft",
        ASTERISK_SECRET=SECRET,
        LOG_LEVEL="DEBUG",
    )
    env.update(extra)
    return env


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_the_worker_process_exits_cleanly_on_a_signal_and_leaves_a_recording(tmp_path, signum):
    from connector.models import ConnectorStatus

    record = tmp_path / "traffic.jsonl"
    async with FakeAMI(secret=SECRET) as ami:
        pipe = asyncio.subprocess.PIPE
        process = await start_worker(worker_env(ami), "--record", str(record), stdout=pipe, stderr=pipe)
        try:
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"), timeout=30)
            await ami.push_event({"Event": "DeviceStateChange", "Device": "SIP/305", "State": "INUSE"})
            await asyncio.sleep(0.3)
            process.send_signal(signum)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 15)
        finally:
            await kill_if_running(process)
        assert process.returncode == 0, stderr.decode()
        assert ami.actions_named("Logoff"), "a clean stop logs off"
    log = stderr.decode()
    assert "AMI logged in" in log and "AMI worker stopped" in log
    assert "framer: compiled" in log  # the built module, not the pure Python fallback
    assert SECRET not in log and SECRET not in stdout.decode()
    records = read_trace(record)
    assert records[0].data.startswith(b"Asterisk Call Manager/")
    assert any(b"Event: DeviceStateChange" in r.data for r in records)
    assert SECRET.encode() not in record.read_bytes()
    status = await in_db(ConnectorStatus.get)
    assert status.state in ("connected", "down")
    assert SECRET not in status.detail


@pytest.mark.django_db(transaction=True)
async def test_the_worker_refuses_to_start_without_credentials(tmp_path):
    async with FakeAMI() as ami:
        env = worker_env(ami)
        del env["ASTERISK_SECRET"]
        process = await start_worker(env, stderr=asyncio.subprocess.PIPE)
        _out, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode != 0
    assert "ASTERISK_SECRET" in stderr.decode()
    assert ami.connections == []


@pytest.fixture
def lock_key():
    return f"test:leader:{uuid.uuid4().hex}"


async def test_only_one_worker_holds_the_lock_and_a_standby_takes_over(redis_url, lock_key):
    first = RedisLock(redis_url, key=lock_key, ttl=0.6, identity="first")
    second = RedisLock(redis_url, key=lock_key, ttl=0.6, identity="second")
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await second.holder() == "first"
        assert await first.renew()
        # The first worker dies (stops renewing): the standby leads within the TTL.
        stop = asyncio.Event()
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(second.acquire(stop), 3)
        assert asyncio.get_running_loop().time() - started <= 0.6 + 0.3
        assert not await first.renew()  # the old leader cannot take it back by renewing
        await first.release()  # nor free it
        assert await second.holder() == "second"
    finally:
        await second.release()
        await first.close()
        await second.close()


async def test_keep_returns_when_another_worker_owns_the_lock(redis_url, lock_key):
    lock = RedisLock(redis_url, key=lock_key, ttl=0.6, identity="mine")
    try:
        assert await lock.try_acquire()
        stop = asyncio.Event()
        keeper = asyncio.create_task(lock.keep(stop))
        await asyncio.sleep(0.3)
        assert not keeper.done()  # renewing: still ours after half the TTL
        await lock._redis.set(lock_key, "intruder")
        await asyncio.wait_for(keeper, 2)
        assert not lock.held
    finally:
        await lock._redis.delete(lock_key)
        await lock.close()


async def test_a_standby_waits_until_stopped(redis_url, lock_key):
    holder = RedisLock(redis_url, key=lock_key, ttl=5, identity="holder")
    standby = RedisLock(redis_url, key=lock_key, ttl=0.6, identity="standby")
    try:
        assert await holder.try_acquire()
        stop = asyncio.Event()
        waiting = asyncio.create_task(standby.acquire(stop))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        stop.set()
        assert await asyncio.wait_for(waiting, 2) is False
    finally:
        await holder.release()
        await holder.close()
        await standby.close()


async def test_without_redis_the_lock_is_a_no_op():
    lock = leader_lock("")
    assert isinstance(lock, NoLock)
    stop = asyncio.Event()
    assert await lock.acquire(stop)
    stop.set()
    await asyncio.wait_for(lock.keep(stop), 1)


async def test_two_workers_one_asterisk_only_the_leader_logs_in(redis_url, lock_key):
    from channels.layers import InMemoryChannelLayer

    from connector.tests.test_worker import make_parts
    from connector.worker import Worker

    async with FakeAMI(secret="w0rker-secret-never-shown") as ami:
        workers, stops, tasks = [], [], []
        for name in ("a", "b"):
            parts = make_parts(ami, InMemoryChannelLayer())
            parts.lock = RedisLock(redis_url, key=lock_key, ttl=0.6, identity=name)
            workers.append(Worker(parts))
            stops.append(asyncio.Event())
            tasks.append(asyncio.create_task(workers[-1].run(stops[-1])))
            await ami.wait_for(lambda: ami.logins)
        try:
            await asyncio.sleep(0.5)
            assert len(ami.logins) == 1  # the standby never connects
            leader = 0 if workers[0].client is not None else 1
            stops[leader].set()
            await asyncio.wait_for(tasks[leader], 5)
            await ami.wait_for(lambda: len(ami.logins) == 2, timeout=3)
            assert workers[1 - leader].client is not None
            assert ami.sessions[0].closed.is_set()  # the old leader's session ended first
        finally:
            for stop in stops:
                stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 5)


@pytest.mark.chaos
@pytest.mark.timeout(90)
@pytest.mark.django_db(transaction=True)
async def test_a_standby_worker_process_takes_over_when_the_leader_is_killed(redis_url):
    async with FakeAMI(secret=SECRET) as ami:
        env = worker_env(ami, REDIS_URL=redis_url, LOG_LEVEL="INFO")
        processes = []
        try:
            for _ in range(2):
                quiet = asyncio.subprocess.DEVNULL
                processes.append(await start_worker(env, stdout=quiet, stderr=quiet))
            await ami.wait_for(lambda: ami.logins, timeout=30)
            await asyncio.sleep(3)
            assert len(ami.logins) == 1  # one active worker, one standby
            leader_session = ami.sessions[-1]
            from connector.models import ConnectorStatus

            status = await in_db(ConnectorStatus.get)
            leader_pid = int(status.worker.rsplit(":", 1)[1])  # the status row names the active worker
            leader = next(p for p in processes if p.pid == leader_pid)
            leader.kill()
            await leader.wait()
            await ami.wait_for(lambda: leader_session.closed.is_set(), timeout=5)
            killed_at = asyncio.get_running_loop().time()
            await ami.wait_for(lambda: len(ami.logins) == 2, timeout=30)
            took = asyncio.get_running_loop().time() - killed_at
            assert took <= 15 + 5 + 2  # the lock TTL plus one standby poll
        finally:
            for process in processes:
                await kill_if_running(process)


@pytest.mark.django_db(transaction=True)
async def test_the_worker_replays_file_path_into_the_call_history():
    from connector.models import Call, ConnectorStatus

    trace = ROOT / "tests" / "traces" / "asterisk-20.20.1-sip" / "inbound-answered.jsonl"
    async with FakeAMI(secret=SECRET) as ami:
        env = worker_env(ami, ASTERISK_FILE_PATH=str(trace))
        del env["ASTERISK_SECRET"]  # a replay needs no credentials
        process = await start_worker(env, "--speed", "0", stderr=asyncio.subprocess.PIPE)
        try:
            for _ in range(300):
                status = await in_db(ConnectorStatus.get)
                if status.detail.startswith("replay of"):
                    break
                await asyncio.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            _out, stderr = await asyncio.wait_for(process.communicate(), 15)
        finally:
            await kill_if_running(process)
        assert ami.connections == []  # replaying, not connecting
    assert process.returncode == 0, stderr.decode()
    assert status.detail == "replay of inbound-answered.jsonl finished"
    calls = await in_db(lambda: list(Call.objects.filter(line="305")))
    assert len(calls) == 1
    call = calls[0]
    assert (call.direction, call.state, call.remote_number) == ("inbound", "ended", "79161234567")
    assert call.end_reason == "completed"
    assert 2.5 <= call.duration <= 3.5  # the recording's talk time, however fast the replay ran
