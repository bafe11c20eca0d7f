#!/usr/bin/env python3
"""Chaos scenarios against two instances of a built service: `python3 chaos.py <service-dir> [scenario ...]`.

Each scenario starts its own NATS and PostgreSQL, two instances, publishes with this folder's raw NATS
client (natsproto.py), injects its fault, waits until the shared consumer is idle, and checks PostgreSQL,
tenant.ready and the dead-letter queue against `harness.expected_state` (the events applied once in
stream order). Prints one line of figures per scenario and exits 1 when any scenario found a problem.
"""
import concurrent.futures
import json
import os
import random
import signal
import sys
import threading
import time

from harness import Lab, digest, encode, event, log, until, verify, wait_idle
from natsproto import Connection, JetStream, NatsError, connect_with_retry

PREFIX = 'events'


class Publisher:
    """Publishes through JetStream and retries each event until it is acknowledged, reconnecting as needed."""

    def __init__(self, port, threads=8):
        self.port = port
        self.local = threading.local()
        self.pool = concurrent.futures.ThreadPoolExecutor(threads)
        self.retries = 0
        self.lock = threading.Lock()

    def _js(self):
        js = getattr(self.local, 'js', None)
        if js is None or js.nc.closed.is_set():
            nc = connect_with_retry(self.port, 120, name='chaos-publisher')
            js = self.local.js = JetStream(nc)
        return js

    def publish_one(self, subject, payload, msg_id, headers=None, deadline_s=180):
        end = time.time() + deadline_s
        while True:
            try:
                return self._js().publish(subject, payload, msg_id, headers, timeout=3)
            except (NatsError, OSError) as error:
                with self.lock:
                    self.retries += 1
                if time.time() > end:
                    raise
                js = getattr(self.local, 'js', None)
                if js is not None and ('timeout' in str(error) or '503' in str(error) or isinstance(error, OSError)):
                    js.nc.close()
                    self.local.js = None
                time.sleep(0.2)

    def publish_all(self, items, per_second=None):
        """items: (subject, payload, msg_id) in the order wanted; up to `threads` in flight at once, at most `per_second`."""
        futures = []
        for index, item in enumerate(items):
            if per_second and index % 20 == 0:
                time.sleep(20 / per_second)
            futures.append(self.pool.submit(self.publish_one, *item))
        return [future.result() for future in futures]


def subject_of(value):
    return f'{PREFIX}.{value["type"]}'


def user_history(rng, tenant, user):
    """A user's events: created, some updates of either field, maybe deleted and created again."""
    events = [event('user.created', tenant, {'userId': user, 'email': f'{user}@example.com', 'name': f'User {user}', 'tenantId': tenant})]
    for step in range(rng.randint(0, 4)):
        roll = rng.random()
        if roll < 0.6:
            field = rng.choice(['email', 'name'])
            value = f'{user}.{step}@example.com' if field == 'email' else f'Name {user} {step}'
            events.append(event('user.updated', tenant, {'userId': user, 'tenantId': tenant, 'changes': {field: value}}))
        elif roll < 0.8:
            events.append(event('user.deleted', tenant, {'userId': user, 'tenantId': tenant}))
        else:
            events.append(event('user.created', tenant, {'userId': user, 'email': f'{user}.re{step}@example.com', 'name': f'Again {user}', 'tenantId': tenant}))
    return events


def user_burst(rng, tenants, users_per_tenant):
    events = [e for tenant in tenants for u in range(users_per_tenant) for e in user_history(rng, tenant, f'u{u}')]
    rng.shuffle(events)  # any order: the oracle folds in whatever order the stream holds them
    items = [(subject_of(e), encode(e), e['id']) for e in events]
    # Twice: a second publish with the same Nats-Msg-Id for a third of them (stored once) ...
    items += [item for item in items if rng.random() < 0.33]
    # ... and a copy without Nats-Msg-Id for a tenth (stored again: the service must apply it once).
    items += [(subject, payload, None) for subject, payload, _ in items if rng.random() < 0.1]
    return items


def tenant_created_items(tenants, copies=1):
    """One tenant.created per tenant, each `copies` times with the same Nats-Msg-Id (stored once)."""
    items = []
    for tenant in tenants:
        e = event('tenant.created', tenant, {'tenantId': tenant, 'name': f'Tenant {tenant}'})
        items.extend([(subject_of(e), encode(e), e['id'])] * copies)
    return items


def create_tenants(lab, publisher, tenants, wait=True):
    publisher.publish_all(tenant_created_items(tenants, copies=2))
    if wait:
        wanted = {f'tenant_{t.replace("-", "_")}' for t in tenants}
        until('tenant schemas', lambda: wanted <= {row[0] for row in lab.pg.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant_%'")}, 60)


def tenants_then_burst(lab, rng, prefix, users_per_tenant):
    """Four tenants created and waited for; returns the start time, a publisher and their users' events, unpublished."""
    started = time.time()
    publisher = Publisher(lab_port())
    tenants = [f'{prefix}{i}' for i in range(4)]
    create_tenants(lab, publisher, tenants)
    return started, publisher, user_burst(rng, tenants, users_per_tenant)


def check_instances(lab, expect_up=True):
    problems = []
    for instance in lab.instances:
        if not instance.group:
            continue
        health, _ = instance.get('/health')
        ready, body = instance.get('/ready')
        if expect_up and (health != 200 or ready != 200):
            problems.append(f'instance {instance.index}: /health {health} /ready {ready} {body[:200]}')
    return problems


def stop_all(lab):
    problems = []
    for instance in lab.instances:
        if instance.group:
            code = instance.stop(signal.SIGTERM)
            if code != 0:
                problems.append(f'instance {instance.index} exited {code} on SIGTERM')
    return problems


def handled_counts(lab):
    """events_handled_total{result="ok"} of each running instance."""
    counts = {}
    for instance in lab.instances:
        if not instance.group:
            continue
        status, body = instance.get('/metrics')
        total = 0.0
        for line in body.splitlines():
            if line.startswith('events_handled_total{') and 'result="ok"' in line:
                total += float(line.rsplit(' ', 1)[1])
        counts[instance.index] = total
    return counts


def finish(lab, started, invalid=frozenset(), extra_problems=(), check_shared=True):
    wait_idle(lab)
    problems, figures = verify(lab, invalid)
    problems += list(extra_problems)
    problems += check_instances(lab)
    counts = handled_counts(lab)
    figures['handled_by_instance'] = counts
    if check_shared and len(counts) == 2 and min(counts.values()) == 0:
        problems.append(f'one instance handled nothing: {counts}')
    problems += stop_all(lab)
    figures['seconds'] = round(time.time() - started, 1)
    return problems, figures


# ---------------------------------------------------------------------------------------------- scenarios

def scenario_burst(lab, rng):
    """Many users and tenants, any order, duplicates; both instances share the work."""
    started = time.time()
    publisher = Publisher(lab_port())
    tenants = [f't{i}' for i in range(6)]
    create_tenants(lab, publisher, tenants)
    publisher.publish_all(user_burst(rng, tenants, 60))
    return finish(lab, started)


def scenario_tenants_with_users(lab, rng):
    """tenant.created published in the same burst as its users' events, after them in part."""
    started = time.time()
    publisher = Publisher(lab_port())
    tenants = [f'n{i}' for i in range(8)]
    publisher.publish_all(tenant_created_items(tenants))  # stream order: every tenant first ...
    publisher.publish_all(user_burst(rng, tenants, 40))  # ... then their users, at once
    return finish(lab, started)


def scenario_frozen_tenant(lab, rng):
    """tenant.created held by an instance that freezes (SIGSTOP) and is then SIGKILLed, while the other handles the users."""
    started = time.time()
    publisher = Publisher(lab_port())
    victim = lab.instances[0]
    victim.group.signal(signal.SIGSTOP)  # its pending pull still takes its share of what comes next
    log('instance 0 frozen')
    tenants = [f'f{i}' for i in range(6)]
    publisher.publish_all(tenant_created_items(tenants))
    publisher.publish_all(user_burst(rng, tenants, 20))
    time.sleep(8)
    victim.stop(signal.SIGKILL)
    log('instance 0 killed')
    return finish(lab, started, check_shared=False)


def scenario_kill_instance(lab, rng):
    """One instance SIGKILLed mid-burst; the other takes over its unacknowledged messages."""
    started, publisher, items = tenants_then_burst(lab, rng, 'k', 150)
    half = len(items) // 2
    publisher.publish_all(items[:half])
    victim = lab.instances[0]
    victim.stop(signal.SIGKILL)
    log('instance 0 killed')
    more_tenants = [f'k{i}' for i in range(4, 8)]
    publisher.publish_all(items[half:] + tenant_created_items(more_tenants))
    return finish(lab, started, check_shared=False)


def scenario_nats_restart(lab, rng):
    """NATS killed and started again (same store) during a burst."""
    started, publisher, items = tenants_then_burst(lab, rng, 'r', 120)
    third = len(items) // 3
    publisher.publish_all(items[:third])
    done = threading.Event()

    def restart():
        time.sleep(2)
        lab.nats.kill()
        log('NATS killed')
        time.sleep(8)
        lab.nats.start()
        log('NATS started again')
        done.set()

    threading.Thread(target=restart, daemon=True).start()
    publisher.publish_all(items[third:], per_second=150)
    done.wait(60)
    lab.reconnect()
    # A tenant created after the outage still gets its schema and one tenant.ready.
    create_tenants(lab, publisher, ['r-after'])
    problems, figures = finish(lab, started)
    figures['publisher_retries'] = publisher.retries
    return problems, figures


def scenario_postgres_outage(lab, rng):
    """PostgreSQL stopped for 15 s during a burst: nothing dead-lettered, nothing lost."""
    started = time.time()
    publisher = Publisher(lab_port())
    tenants = [f'p{i}' for i in range(4)]
    create_tenants(lab, publisher, tenants)
    items = user_burst(rng, tenants, 120)
    half = len(items) // 2
    publisher.publish_all(items[:half])
    lab.pg.stop('fast')
    log('PostgreSQL stopped')
    e = event('tenant.created', 'p-during', {'tenantId': 'p-during', 'name': 'During the outage'})
    outage_started = time.time()
    publisher.publish_all(items[half:] + [(subject_of(e), encode(e), e['id'])], per_second=100)
    time.sleep(max(0, 15 - (time.time() - outage_started)))
    ready = [instance.get('/ready')[0] for instance in lab.instances]
    health = [instance.get('/health')[0] for instance in lab.instances]
    lab.pg.start()
    log('PostgreSQL started again')
    extra = []
    if any(code != 503 for code in ready):
        extra.append(f'/ready during the PostgreSQL outage: {ready} (expected 503)')
    if any(code != 200 for code in health):
        extra.append(f'/health during the PostgreSQL outage: {health} (expected 200: it comes back by itself)')
    return finish(lab, started, extra_problems=extra)


def scenario_bad_input(lab, rng):
    """Malformed JSON, schema-invalid, unknown types, huge payloads, no Nats-Msg-Id, core publishes, colliding tenants."""
    started = time.time()
    publisher = Publisher(lab_port())
    create_tenants(lab, publisher, ['acme-corp', 'good'])
    invalid = set()
    items = []

    def bad(payload, subject=f'{PREFIX}.user.created'):
        invalid.add(digest(payload))
        items.append((subject, payload, None))

    bad(b'{not json')
    bad(b'')
    bad(b'\xff\xfe garbage')
    bad(encode({'id': 'not-a-uuid', 'type': 'user.created'}))
    bad(encode(event('user.created', 'good', {'userId': 'x', 'email': 'not-an-email', 'name': 'X', 'tenantId': 'good'})))
    bad(encode(event('user.created', 'good', {'userId': 'x', 'email': 'x@example.com', 'name': 'X', 'tenantId': 'other'})))
    bad(encode(event('user.created', 'BAD ID', {'userId': 'x', 'email': 'x@example.com', 'name': 'X', 'tenantId': 'BAD ID'})))
    bad(encode(event('order.placed', 'good', {'tenantId': 'good'})), subject=f'{PREFIX}.order.placed')
    bad(encode(event('user.created', 'good', {'userId': 'huge', 'email': 'h@example.com', 'name': 'N' * 900_000, 'tenantId': 'good'})))
    bad(json.dumps([1, 2, 3]).encode())
    bad(b'null')
    # A colliding tenant: acme_corp maps to acme-corp's schema, and is refused on create and on writes.
    collide = event('tenant.created', 'acme_corp', {'tenantId': 'acme_corp', 'name': 'Collides'})
    items.append((subject_of(collide), encode(collide), collide['id']))
    for user in ('c1', 'c2'):
        e = event('user.created', 'acme_corp', {'userId': user, 'email': f'{user}@example.com', 'name': user, 'tenantId': 'acme_corp'})
        items.append((subject_of(e), encode(e), e['id']))
    # Good events among them, some without Nats-Msg-Id.
    for tenant in ('acme-corp', 'good'):
        for user in range(20):
            e = event('user.created', tenant, {'userId': f'g{user}', 'email': f'g{user}@example.com', 'name': f'G {user}', 'tenantId': tenant})
            items.append((subject_of(e), encode(e), e['id'] if user % 2 else None))
    rng.shuffle(items)
    publisher.publish_all(items)
    # Core NATS publishes (no reply, so no JetStream ack) are stored too while NATS is up.
    core = Connection(port=lab_port(), name='chaos-core')
    for user in range(10):
        e = event('user.created', 'good', {'userId': f'core{user}', 'email': f'core{user}@example.com', 'name': 'Core', 'tenantId': 'good'})
        core.publish(subject_of(e), encode(e), {'Nats-Msg-Id': e['id']} if user % 2 else None)
    core.flush()
    core.close()
    problems, figures = finish(lab, started, frozenset(invalid))
    return problems, figures


def scenario_nats_gone(lab, rng):
    """NATS gone for good (reconnect attempts exhausted): /health 503 and the process exits non-zero."""
    started = time.time()
    lab.nats.kill()
    problems = []
    codes = []
    for instance in lab.instances:
        try:
            code = instance.group.wait(60)
        except Exception:
            code = 'still running after 60 s'
        instance.group = None
        codes.append(code)
    if any(code == 0 or not isinstance(code, int) for code in codes):
        problems.append(f'exit codes after NATS went for good: {codes}')
    return problems, {'exit_codes': codes, 'seconds': round(time.time() - started, 1)}


SCENARIOS = {
    'burst': (scenario_burst, {}),
    'tenants-with-users': (scenario_tenants_with_users, {}),
    'kill-instance': (scenario_kill_instance, {}),
    'frozen-tenant': (scenario_frozen_tenant, {}),
    'nats-restart': (scenario_nats_restart, {}),
    'postgres-outage': (scenario_postgres_outage, {}),
    'bad-input': (scenario_bad_input, {}),
    'nats-gone': (scenario_nats_gone, {'NATS_MAX_RECONNECT_ATTEMPTS': '3', 'NATS_RECONNECT_WAIT_MS': '250'}),
}


def lab_port():
    from harness import NATS_PORT
    return NATS_PORT


def main():
    service_dir = sys.argv[1]
    names = sys.argv[2:] or list(SCENARIOS)
    failed = False
    seed = int(os.environ.get('CHAOS_SEED', '1'))
    for name in names:
        scenario, env = SCENARIOS[name]
        rng = random.Random(seed)
        log(f'--- {name}')
        lab = Lab(service_dir, extra_env=env)
        try:
            problems, figures = scenario(lab, rng)
        except Exception as error:
            problems, figures = [f'{type(error).__name__}: {error}'], {}
        finally:
            keep = bool(os.environ.get('CHAOS_KEEP'))
            lab.close(keep=keep)
        print(json.dumps({'scenario': name, 'ok': not problems, 'figures': figures, 'problems': problems}), flush=True)
        failed = failed or bool(problems)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
