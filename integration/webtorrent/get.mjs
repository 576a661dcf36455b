// get.mjs downloads argv[2] (a .torrent link, a .torrent file or a magnet)
// into argv[3] with webtorrent, listening on port argv[4], and exits once
// the download is complete.
//
// DHT, local service discovery, uTP and UPnP/NAT-PMP are off: lanseedd's
// tracker and web seed are the only sources a LAN client needs, and with
// them on a download could come from elsewhere than lanseedd. They change
// nothing in how webtorrent speaks to a peer it was given.
import WebTorrent from 'webtorrent'

const [src, dir, port] = process.argv.slice(2)
const start = Date.now()
const log = (...a) => console.log(((Date.now() - start) / 1000).toFixed(3), ...a)

const client = new WebTorrent({
  dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false,
  torrentPort: Number(port)
})
client.on('error', err => { log('client error', err.message); process.exit(1) })

const torrent = client.add(src, { path: dir })
torrent.on('infoHash', () => log('infohash', torrent.infoHash))
torrent.on('metadata', () => log('metadata', torrent.name, torrent.length))
torrent.on('warning', err => log('warning', err.message || err))
torrent.on('error', err => { log('torrent error', err.message || err); process.exit(1) })
torrent.on('wire', (wire, addr) => {
  log('wire', addr || wire.type)
  wire.on('unchoke', () => log('unchoke from', addr))
  wire.on('have-all', () => log('have-all from', addr))
  wire.on('bitfield', () => log('bitfield from', addr))
  wire.on('close', () => log('wire closed', addr))
})
torrent.on('done', () => {
  log('done', torrent.downloaded)
  client.destroy(() => process.exit(0))
})
