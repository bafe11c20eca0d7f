"""A NATS client speaking the text protocol over a socket, with nothing but the standard library.

It is the "other language" client of the chaos scenarios: what a Python (or any) service sees of the
wire contract (SPEC 3.2), without the Node client's help. Only what the scenarios need: CONNECT, PUB,
HPUB, SUB, UNSUB, PING/PONG, MSG/HMSG, and request/reply on one wildcard inbox.
"""
import json
import queue
import socket
import threading
import time
import uuid


class NatsError(Exception):
    pass


class Msg:
    def __init__(self, subject, reply, headers, data, status=None):
        self.subject = subject
        self.reply = reply
        self.headers = headers
        self.data = data
        self.status = status

    def json(self):
        return json.loads(self.data)


def encode_headers(headers):
    lines = ['NATS/1.0']
    for name, value in headers.items():
        lines.append(f'{name}: {value}')
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


def parse_headers(raw):
    text = raw.decode()
    lines = text.split('\r\n')
    status_line = lines[0]
    status = status_line[len('NATS/1.0'):].strip() or None
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(':')
        headers[name.strip()] = value.strip()
    return status, headers


class Connection:
    def __init__(self, host='127.0.0.1', port=4222, name='chaos-driver', timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(None)
        self.file = self.sock.makefile('rb')
        info_line = self.file.readline()
        if not info_line.startswith(b'INFO '):
            raise NatsError(f'expected INFO, got {info_line!r}')
        self.info = json.loads(info_line[5:])
        self.lock = threading.Lock()
        self.next_sid = 1
        self.subs = {}
        self.closed = threading.Event()
        self.inbox_prefix = f'_INBOX.{uuid.uuid4().hex}'
        self.pending = {}
        self.send(f'CONNECT {json.dumps({"verbose": False, "pedantic": False, "headers": True, "no_responders": True, "name": name, "lang": "python-raw", "version": "0.1", "protocol": 1})}\r\nPING\r\n'.encode())
        line = self.file.readline()
        if line.startswith(b'-ERR'):
            raise NatsError(line.decode().strip())
        if not line.startswith(b'PONG'):
            raise NatsError(f'expected PONG, got {line!r}')
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()
        self._inbox_sid = self.subscribe(f'{self.inbox_prefix}.*', self._on_reply)

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)

    def subscribe(self, subject, callback, queue_group=None):
        sid = self.next_sid
        self.next_sid += 1
        self.subs[sid] = callback
        group = f' {queue_group}' if queue_group else ''
        self.send(f'SUB {subject}{group} {sid}\r\n'.encode())
        return sid

    def unsubscribe(self, sid):
        self.subs.pop(sid, None)
        self.send(f'UNSUB {sid}\r\n'.encode())

    def publish(self, subject, data=b'', headers=None, reply=None):
        if isinstance(data, str):
            data = data.encode()
        reply_part = f' {reply}' if reply else ''
        if headers:
            head = encode_headers(headers)
            frame = f'HPUB {subject}{reply_part} {len(head)} {len(head) + len(data)}\r\n'.encode() + head + data + b'\r\n'
        else:
            frame = f'PUB {subject}{reply_part} {len(data)}\r\n'.encode() + data + b'\r\n'
        self.send(frame)

    def request(self, subject, data=b'', headers=None, timeout=5.0):
        token = uuid.uuid4().hex
        answer = queue.Queue(maxsize=1)
        self.pending[token] = answer
        try:
            self.publish(subject, data, headers, reply=f'{self.inbox_prefix}.{token}')
            try:
                msg = answer.get(timeout=timeout)
            except queue.Empty:
                raise NatsError(f'timeout waiting for a reply on {subject}')
        finally:
            self.pending.pop(token, None)
        if msg.status and msg.status.startswith('503'):
            raise NatsError('503 no responders')
        return msg

    def flush(self, timeout=5.0):
        # A round trip through the server: the request's reply shows everything sent before reached it.
        done = threading.Event()
        sid = self.subscribe(f'{self.inbox_prefix}.flush', lambda msg: done.set())
        self.publish(f'{self.inbox_prefix}.flush', b'')
        if not done.wait(timeout):
            raise NatsError('flush timed out')
        self.unsubscribe(sid)

    def close(self):
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _on_reply(self, msg):
        token = msg.subject.rsplit('.', 1)[-1]
        waiter = self.pending.get(token)
        if waiter is not None:
            try:
                waiter.put_nowait(msg)
            except queue.Full:
                pass

    def _read_loop(self):
        f = self.file
        try:
            while not self.closed.is_set():
                line = f.readline()
                if not line:
                    break
                if line.startswith(b'PING'):
                    self.send(b'PONG\r\n')
                elif line.startswith(b'MSG '):
                    parts = line.split()
                    subject, sid = parts[1].decode(), int(parts[2])
                    reply = parts[3].decode() if len(parts) == 5 else None
                    size = int(parts[-1])
                    data = f.read(size)
                    f.read(2)
                    self._dispatch(sid, Msg(subject, reply, {}, data))
                elif line.startswith(b'HMSG '):
                    parts = line.split()
                    subject, sid = parts[1].decode(), int(parts[2])
                    reply = parts[3].decode() if len(parts) == 6 else None
                    head_size, total = int(parts[-2]), int(parts[-1])
                    raw = f.read(total)
                    f.read(2)
                    status, headers = parse_headers(raw[:head_size])
                    self._dispatch(sid, Msg(subject, reply, headers, raw[head_size:], status))
                elif line.startswith(b'-ERR'):
                    print('nats -ERR', line.decode().strip(), flush=True)
        except (OSError, ValueError):
            pass
        self.closed.set()

    def _dispatch(self, sid, msg):
        callback = self.subs.get(sid)
        if callback:
            try:
                callback(msg)
            except Exception as error:  # a scenario's callback must not stop the reader
                print('callback failed', error, flush=True)


class JetStream:
    """JetStream over plain requests: publish with an ack, stream info, direct reads of a stream's messages."""

    def __init__(self, nc):
        self.nc = nc

    def publish(self, subject, data, msg_id=None, headers=None, timeout=5.0):
        all_headers = dict(headers or {})
        if msg_id is not None:
            all_headers['Nats-Msg-Id'] = msg_id
        msg = self.nc.request(subject, data, all_headers or None, timeout=timeout)
        ack = msg.json()
        if 'error' in ack:
            raise NatsError(f'JetStream refused the publish: {ack["error"]}')
        return ack

    def api(self, path, body=None, timeout=5.0):
        data = json.dumps(body).encode() if body is not None else b''
        answer = self.nc.request(f'$JS.API.{path}', data, timeout=timeout).json()
        if 'error' in answer:
            raise NatsError(f'{path}: {answer["error"]}')
        return answer

    def stream_info(self, stream):
        return self.api(f'STREAM.INFO.{stream}')

    def consumer_info(self, stream, consumer):
        return self.api(f'CONSUMER.INFO.{stream}.{consumer}')

    def delete_stream(self, stream):
        return self.api(f'STREAM.DELETE.{stream}')

    def get_message(self, stream, seq):
        """The stored message at `seq` (subject, headers, data), or None when it was deleted."""
        import base64
        try:
            answer = self.api(f'STREAM.MSG.GET.{stream}', {'seq': seq})
        except NatsError as error:
            if 'no message found' in str(error):
                return None
            raise
        message = answer['message']
        headers = {}
        if message.get('hdrs'):
            _, headers = parse_headers(base64.b64decode(message['hdrs']))
        data = base64.b64decode(message['data']) if message.get('data') else b''
        return Msg(message['subject'], None, headers, data)

    def read_stream(self, stream):
        info = self.stream_info(stream)
        first, last = info['state']['first_seq'], info['state']['last_seq']
        messages = []
        for seq in range(first, last + 1):
            msg = self.get_message(stream, seq)
            if msg is not None:
                messages.append((seq, msg))
        return messages


def connect_with_retry(port, deadline_s=30.0, name='chaos-driver'):
    end = time.time() + deadline_s
    while True:
        try:
            return Connection(port=port, name=name)
        except (OSError, NatsError):
            if time.time() > end:
                raise
            time.sleep(0.2)
