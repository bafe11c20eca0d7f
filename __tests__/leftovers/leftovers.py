"""What a test run left on a NATS server and a PostgreSQL database: streams, consumers, schemas, tables.

    python3 __tests__/leftovers/leftovers.py snapshot > before.json    # before the run
    python3 __tests__/leftovers/leftovers.py diff before.json          # after it: what is new, what went

The snapshot holds every JetStream stream with its consumers, every schema of the database and the
tables of `public`. `diff` prints what appeared since the snapshot and what disappeared (JSON), and exits
1 when something appeared. Other runs on the same servers show up too: it lists, it cannot tell whose.
NATS_URL (nats://host:port, no credentials) and DATABASE_URL (read with psql) name the servers;
by default the shared ones, 127.0.0.1:4222 and postgres://postgres@127.0.0.1:5432/test.
"""
import json
import os
import subprocess
import sys
from urllib.parse import urlparse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'chaos'))
from natsproto import Connection, JetStream, NatsError  # noqa: E402

NATS_URL = os.environ.get('NATS_URL', 'nats://127.0.0.1:4222')
STREAM_NOT_FOUND = "'err_code': 10059"
DATABASE_URL = os.environ.get('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test')


def paged(js, path, key):
    """Every name a paged JetStream names request lists."""
    names, offset = [], 0
    while True:
        answer = js.api(path, {'offset': offset})
        page = answer.get(key) or []
        names.extend(page)
        offset += len(page)
        if not page or offset >= answer.get('total', 0):
            return names


def nats_state():
    url = urlparse(NATS_URL)
    nc = Connection(url.hostname or '127.0.0.1', url.port or 4222, name='leftovers-check')
    try:
        js = JetStream(nc)
        streams = {}
        for stream in paged(js, 'STREAM.NAMES', 'streams'):
            try:
                streams[stream] = sorted(paged(js, f'CONSUMER.NAMES.{stream}', 'consumers'))
            except NatsError as error:
                if STREAM_NOT_FOUND not in str(error):
                    raise  # else another run deleted it since it was listed
        return streams
    finally:
        nc.close()


def psql(query):
    out = subprocess.run(['psql', DATABASE_URL, '-At', '-c', query], check=True, capture_output=True, text=True).stdout
    return sorted(line for line in out.splitlines() if line)


def postgres_state():
    return {
        'schemas': psql("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"),
        'public_tables': psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"),
    }


def snapshot():
    return {'streams': nats_state(), **postgres_state()}


def diff(before, after):
    streams_before, streams_after = before['streams'], after['streams']
    new_consumers = {
        stream: sorted(set(consumers) - set(streams_before[stream]))
        for stream, consumers in streams_after.items()
        if stream in streams_before and set(consumers) - set(streams_before[stream])
    }
    appeared = {
        'streams': {stream: consumers for stream, consumers in streams_after.items() if stream not in streams_before},
        'consumers': new_consumers,
        'schemas': sorted(set(after['schemas']) - set(before['schemas'])),
        'public_tables': sorted(set(after['public_tables']) - set(before['public_tables'])),
    }
    gone = {
        'streams': sorted(set(streams_before) - set(streams_after)),
        'schemas': sorted(set(before['schemas']) - set(after['schemas'])),
        'public_tables': sorted(set(before['public_tables']) - set(after['public_tables'])),
    }
    return appeared, gone


def main(argv):
    if argv[:1] == ['snapshot'] and len(argv) == 1:
        json.dump(snapshot(), sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    if argv[:1] == ['diff'] and len(argv) == 2:
        with open(argv[1], encoding='utf8') as file:
            before = json.load(file)
        appeared, gone = diff(before, snapshot())
        print(json.dumps({'appeared': appeared, 'gone': gone}, indent=1, sort_keys=True))
        return 1 if any(appeared.values()) else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
