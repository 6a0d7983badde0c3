"""The inside of the split-horizon test: run in the network namespace the test created.

`python -m tests.engine.splithorizon DNS_HOST:PORT PUBLIC_IP` (under `ip netns exec`, which puts the
namespace's own /etc/hosts in place, mapping split.test to 127.0.0.1). Two listeners share one port:
the "public" one on PUBLIC_IP, the "internal" one on the namespace's loopback. First a plain httpx
client (the system resolver, so the hosts file) fetches the URL: the control, which must reach the
internal listener. Then a webhook delivery and a massive's file_url download go through the egress
transport, whose resolver asks the DNS server (on the host side of the veth) and gets PUBLIC_IP.
Prints what each listener saw, as JSON, for the test to judge.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import threading
from pathlib import Path

import httpx

from mailsleuth import store
from mailsleuth.config import Settings
from mailsleuth.engine.egress import Egress
from mailsleuth.jobs.webhooks import WebhookDispatcher
from mailsleuth.service.uploads import fetch_upload
from tests.webworld.listener import Listener

NAME = "split.test"
SECRET = b"email\nroot@internal.test\n"
PUBLIC_FILE = b"email\njane@public.test\n"


async def _probe(dns: str, public_ip: str) -> dict[str, object]:
    internal = Listener("127.0.0.1", 0, {"/list.csv": (200, {}, SECRET), "/hook": (204, {}, b"")})
    internal_server = internal.serve()
    port = internal_server.server_address[1]
    public = Listener(public_ip, port, {"/list.csv": (200, {}, PUBLIC_FILE), "/hook": (204, {}, b"")})
    servers = [internal_server, public.serve()]
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://{NAME}:{port}"
    try:
        async with httpx.AsyncClient(trust_env=False) as plain:  # the control: no pin
            control = (await plain.get(f"{url}/list.csv")).content
        control_hits = len(internal.seen)
        internal.seen.clear()

        egress = Egress.from_settings(Settings(dns_servers=dns, allow_private_networks=False))
        with tempfile.TemporaryDirectory() as folder:
            db = store.Database(f"sqlite+aiosqlite:///{Path(folder) / 'hooks.db'}")
            await db.migrate()
            org = await store.create_org(db, "split")
            async with egress.client(max_response_bytes=100_000, deadline=5.0) as client:
                dispatcher = WebhookDispatcher(db, client=client, interval=0.1)
                await dispatcher.enqueue(org.id, f"{url}/hook", {"id": 1}, key="k1", job_id=None)
                delivered = await dispatcher.deliver_due()
            await db.dispose()
        spool = await fetch_upload(f"{url}/list.csv", egress=egress)
        spool.file.seek(0)
        fetched = spool.file.read()
        spool.close()
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    return {
        "control": control.decode(),
        "control_internal_hits": control_hits,
        "delivered": delivered,
        "file_url": fetched.decode(),
        "internal_seen": internal.seen,
        "public_seen": public.seen,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_probe(sys.argv[1], sys.argv[2]))))
