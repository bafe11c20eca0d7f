"""Private servers, two instances of a built service, and the oracle that checks what they did.

Everything runs in process groups of its own (setsid) and is killed by its group id at the end.
Ports: NATS 16000 (monitoring 16010), PostgreSQL 16100, the service instances 16080 and 16081.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

from natsproto import JetStream, NatsError, connect_with_retry

PG_BIN = os.environ.get('POSTGRES_BIN_DIR', '/usr/lib/postgresql/15/bin')
NATS_PORT = int(os.environ.get('CHAOS_NATS_PORT', '16000'))
PG_PORT = int(os.environ.get('CHAOS_PG_PORT', '16100'))
HTTP_PORTS = (16080, 16081)
IS_ROOT = os.geteuid() == 0


def log(*parts):
    print(time.strftime('%H:%M:%S'), *parts, flush=True)


def until(what, check, deadline_s, interval_s=0.5):
    end = time.time() + deadline_s
    last = None
    while time.time() < end:
        try:
            last = check()
            if last:
                return last
        except Exception as error:  # a check may fail while a server is down
            last = error
        time.sleep(interval_s)
    raise TimeoutError(f'{what}: not within {deadline_s} s (last: {last!r})')


class Group:
    """A process started in a session of its own, so that its children die with it."""

    def __init__(self, args, env=None, log_path=None, cwd=None):
        self.log_path = log_path
        out = open(log_path, 'ab') if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def alive(self):
        return self.proc.poll() is None


def as_postgres(args):
    command = ['runuser', '-u', 'postgres', '--', *args] if IS_ROOT else args
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


class PrivateNats:
    def __init__(self, folder):
        self.folder = folder
        self.group = None

    def start(self):
        self.group = Group(['nats-server', '-a', '127.0.0.1', '-p', str(NATS_PORT), '-m', str(NATS_PORT + 10), '-js', '-sd', os.path.join(self.folder, 'js')],
                           log_path=os.path.join(self.folder, 'nats.log'))
        until('NATS up', lambda: connect_with_retry(NATS_PORT, 0.1).close() or True, 15)

    def kill(self):
        if self.group:
            self.group.signal(signal.SIGKILL)
            self.group.wait(10)
            self.group = None


class PrivatePostgres:
    def __init__(self, folder):
        self.folder = os.path.join(folder, 'pg')
        os.makedirs(self.folder)
        if IS_ROOT:
            shutil.chown(self.folder, 'postgres', 'postgres')
        self.data = os.path.join(self.folder, 'data')
        as_postgres([f'{PG_BIN}/initdb', '-D', self.data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
        self.start()
        as_postgres([f'{PG_BIN}/createdb', '-h', '127.0.0.1', '-p', str(PG_PORT), '-U', 'postgres', 'test'])

    url = f'postgres://postgres@127.0.0.1:{PG_PORT}/test'

    def start(self):
        options = f'-p {PG_PORT} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off'
        as_postgres([f'{PG_BIN}/pg_ctl', '-D', self.data, '-o', options, '-l', os.path.join(self.folder, 'log'), '-w', 'start'])

    def stop(self, mode='fast'):
        as_postgres([f'{PG_BIN}/pg_ctl', '-D', self.data, '-m', mode, '-w', 'stop'])

    def dispose(self):
        try:
            self.stop('immediate')
        except subprocess.CalledProcessError:
            pass

    def query(self, sql):
        out = subprocess.run(['psql', '-h', '127.0.0.1', '-p', str(PG_PORT), '-U', 'postgres', '-d', 'test', '-At', '-F', '\t', '-c', sql],
                             check=True, capture_output=True, text=True).stdout
        return [line.split('\t') for line in out.splitlines() if line]


class Instance:
    def __init__(self, service_dir, folder, index, extra_env=None):
        self.index = index
        self.port = HTTP_PORTS[index]
        self.log_path = os.path.join(folder, f'instance-{index}.log')
        self.env = {**os.environ, 'PORT': str(self.port), 'HOST': '127.0.0.1', 'LOG_LEVEL': 'info',
                    'NATS_URL': f'nats://127.0.0.1:{NATS_PORT}', 'DATABASE_URL': PrivatePostgres.url, **(extra_env or {})}
        self.service_dir = service_dir
        self.group = None
        self.exit_code = None

    def start(self):
        self.group = Group(['node', 'dist/server.js'], env=self.env, log_path=self.log_path, cwd=self.service_dir)
        until(f'instance {self.index} ready', lambda: self.get('/ready')[0] == 200, 60)

    def get(self, path):
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{self.port}{path}', timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if not self.group:
            return self.exit_code
        self.group.signal(sig)
        self.exit_code = self.group.wait(timeout)
        self.group = None
        return self.exit_code


class Lab:
    """Servers and instances for one scenario; `close()` leaves nothing running and no folder behind."""

    def __init__(self, service_dir, instances=2, extra_env=None):
        self.folder = tempfile.mkdtemp(prefix='saasquatch-chaos-')
        os.chmod(self.folder, 0o755)
        self.nats = PrivateNats(self.folder)
        self.pg = None
        self.instances = []
        try:
            self.nats.start()
            self.pg = PrivatePostgres(self.folder)
            self.nc = connect_with_retry(NATS_PORT)
            self.js = JetStream(self.nc)
            self.instances = [Instance(service_dir, self.folder, i, extra_env) for i in range(instances)]
            for instance in self.instances:
                instance.start()
        except Exception:
            self.close(keep=True)
            raise

    def reconnect(self):
        try:
            self.nc.close()
        except OSError:
            pass
        self.nc = connect_with_retry(NATS_PORT, 60)
        self.js = JetStream(self.nc)

    def logs(self):
        return {instance.index: open(instance.log_path).read() for instance in self.instances}

    def close(self, keep=False):
        for instance in self.instances:
            if instance.group:
                instance.group.signal(signal.SIGKILL)
                instance.group.wait(10)
        if self.pg:
            self.pg.dispose()
        self.nats.kill()
        if keep or os.environ.get('CHAOS_KEEP'):
            log('kept', self.folder)
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- events

def now_iso():
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime()) + '.000Z'


def event(type_, tenant_id, data, event_id=None):
    return {'id': event_id or str(uuid.uuid4()), 'type': type_, 'timestamp': now_iso(), 'tenantId': tenant_id, 'version': '1.0.0', 'data': data}


def encode(value):
    return json.dumps(value, separators=(',', ':')).encode()


def digest(payload):
    return hashlib.sha256(payload).hexdigest()


def schema_name(tenant_id):
    return 'tenant_' + tenant_id.lower().replace('-', '_')


# ---------------------------------------------------------------------------------------------- oracle

class Expected:
    """What applying the stored events once, in stream order, gives (SPEC 3.5, 3.6)."""

    def __init__(self):
        self.owner = {}             # schema name → tenant id
        self.ready_for = {}         # tenant id → ids of its accepted tenant.created events
        self.users = {}             # tenant id → {user id → (email, name)}
        self.dead_letter_seqs = set()
        self.applied_ids = set()
        self.events = 0
        self.tenant_ready_seen = {}  # tenant id → ids of tenant.ready in the stream


def expected_state(messages, prefix='events', invalid_digests=frozenset()):
    state = Expected()
    for seq, msg in messages:
        if not msg.subject.startswith(prefix + '.'):
            continue
        if digest(msg.data) in invalid_digests:
            state.dead_letter_seqs.add(seq)
            continue
        try:
            value = json.loads(msg.data)
        except ValueError:
            state.dead_letter_seqs.add(seq)
            continue
        kind = value.get('type') if isinstance(value, dict) else None
        if kind == 'tenant.ready':
            state.tenant_ready_seen.setdefault(value['data']['tenantId'], []).append(value['id'])
            continue
        if kind not in ('tenant.created', 'user.created', 'user.updated', 'user.deleted'):
            state.dead_letter_seqs.add(seq)  # unknown type: dead-lettered (docs/EVENTS.md, error handling)
            continue
        if value['id'] in state.applied_ids:
            continue  # a second copy of an event: applied once
        state.events += 1
        tenant = value['tenantId']
        schema = schema_name(tenant)
        owner = state.owner.get(schema)
        if kind == 'tenant.created':
            if owner not in (None, tenant):
                state.dead_letter_seqs.add(seq)  # the schema belongs to another tenant
                continue
            state.applied_ids.add(value['id'])
            state.owner[schema] = tenant
            state.ready_for.setdefault(tenant, set()).add(value['id'])
            state.users.setdefault(tenant, {})
            continue
        if owner != tenant:
            state.dead_letter_seqs.add(seq)  # no schema yet, or another tenant's
            continue
        state.applied_ids.add(value['id'])
        users = state.users[tenant]
        data = value['data']
        user = data['userId']
        if kind == 'user.created':
            users.setdefault(user, (data['email'], data['name']))
        elif kind == 'user.updated':
            if user in users:
                email, name = users[user]
                changes = data['changes']
                users[user] = (changes.get('email', email), changes.get('name', name))
        else:
            users.pop(user, None)
    return state


def actual_users(pg, tenant_id):
    schema = schema_name(tenant_id)
    rows = pg.query(f'SELECT id, email, name FROM "{schema}".users')
    return {row[0]: (row[1], row[2]) for row in rows}


def dead_letters(js, stream='EVENTS_DLQ'):
    entries = []
    try:
        messages = js.read_stream(stream)
    except NatsError:
        return entries
    for _, msg in messages:
        entries.append(json.loads(msg.data))
    return entries


def wait_idle(lab, consumer='chaos-svc-workers', deadline_s=180, quiet_checks=4):
    """Until the shared consumer has nothing pending or unacknowledged, and the outbox is empty, for a few checks in a row."""
    end = time.time() + deadline_s
    quiet = 0
    last = None
    while time.time() < end:
        try:
            info = lab.js.consumer_info('EVENTS', consumer)
            outbox = int(lab.pg.query('SELECT count(*) FROM messaging.outbox')[0][0])
            last = (info['num_pending'], info['num_ack_pending'], outbox)
            quiet = quiet + 1 if last == (0, 0, 0) else 0
            if quiet >= quiet_checks:
                return
        except Exception as error:
            last = error
            quiet = 0
            try:
                lab.reconnect()
            except Exception:
                pass
        time.sleep(1)
    raise TimeoutError(f'consumer not idle within {deadline_s} s: (pending, ack pending, outbox) = {last!r}')


def verify(lab, invalid_digests=frozenset(), extra_dlq_ok=frozenset()):
    """Compares PostgreSQL, tenant.ready and the DLQ with the oracle; returns (problems, figures)."""
    messages = lab.js.read_stream('EVENTS')
    state = expected_state(messages, invalid_digests=invalid_digests)
    problems = []
    rows = 0
    for tenant, users in state.users.items():
        try:
            actual = actual_users(lab.pg, tenant)
        except subprocess.CalledProcessError as error:
            problems.append(f'tenant {tenant}: no users table ({error.stderr.strip()})')
            continue
        rows += len(actual)
        if actual != users:
            missing = {u: users[u] for u in users if u not in actual}
            extra = {u: actual[u] for u in actual if u not in users}
            wrong = {u: (actual[u], users[u]) for u in users if u in actual and actual[u] != users[u]}
            problems.append(f'tenant {tenant}: {len(missing)} missing, {len(extra)} extra, {len(wrong)} wrong rows; '
                            f'e.g. missing {list(missing.items())[:2]} extra {list(extra.items())[:2]} wrong {list(wrong.items())[:2]}')
    for tenant, ids in state.ready_for.items():
        seen = state.tenant_ready_seen.get(tenant, [])
        if len(seen) != len(ids):
            problems.append(f'tenant {tenant}: {len(seen)} tenant.ready for {len(ids)} tenant.created')
    for tenant in state.tenant_ready_seen:
        if tenant not in state.ready_for:
            problems.append(f'tenant.ready for {tenant}, which no accepted tenant.created asked for')
    entries = dead_letters(lab.js)
    by_seq = {}
    for entry in entries:
        if entry.get('stage') == 'publish':
            problems.append(f'publish-stage DLQ entry {entry.get("id")}: {entry.get("error")}')
            continue
        by_seq.setdefault(entry.get('streamSequence'), []).append(entry)
    twice = {seq: len(e) for seq, e in by_seq.items() if len(e) > 1}
    if twice:
        problems.append(f'dead-lettered more than once: {twice}')
    unexpected = {seq: by_seq[seq][0].get('error') for seq in by_seq if seq not in state.dead_letter_seqs and seq not in extra_dlq_ok}
    if unexpected:
        problems.append(f'{len(unexpected)} DLQ entries for events that should have been applied: {dict(list(unexpected.items())[:5])}')
    missing_dlq = sorted(state.dead_letter_seqs - set(by_seq))
    if missing_dlq:
        problems.append(f'{len(missing_dlq)} events that should be dead-lettered are not: seqs {missing_dlq[:10]}')
    figures = {'stored': len(messages), 'applied_events': state.events, 'tenants': len(state.users), 'user_rows': rows,
               'dlq': len(entries), 'dlq_expected': len(state.dead_letter_seqs)}
    return problems, figures
