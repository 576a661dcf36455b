"""Download one torrent with libtorrent over one transport; print the seconds taken.

    python3 get.py TORRENT DIR tcp|utp|default PEER_HOST:PORT

default leaves libtorrent's own choice of transport.
"""
import sys
import time

import libtorrent as lt

torrent, where, transport, peer = sys.argv[1:5]
settings = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "alert_mask": 0,
}
if transport != "default":
    utp = transport == "utp"
    settings.update({"enable_outgoing_utp": utp, "enable_incoming_utp": utp,
                     "enable_outgoing_tcp": not utp, "enable_incoming_tcp": not utp})
ses = lt.session(settings)
ti = lt.torrent_info(torrent)
# No tracker: the seeder is given directly, so only the transport differs.
h = ses.add_torrent({"ti": ti, "save_path": where, "trackers": []})
host, port = peer.rsplit(":", 1)
start = time.monotonic()
h.connect_peer((host, int(port)))
while not h.status().is_seeding:
    if time.monotonic() - start > 300:
        sys.exit("no complete download in 300 s over " + transport)
    if not h.status().num_peers:
        h.connect_peer((host, int(port)))
    time.sleep(0.05)
print("%.3f" % (time.monotonic() - start))
