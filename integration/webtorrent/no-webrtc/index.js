// webrtc-polyfill without WebRTC: webtorrent imports these names at start
// and uses them only for WebRTC peers, which lanseedd's torrents (TCP
// trackers and peers, an HTTP web seed) never bring.
class NoWebRTC {
  constructor () { throw new Error('WebRTC is not available in this build') }
}
export const RTCPeerConnection = NoWebRTC
export const RTCSessionDescription = NoWebRTC
export const RTCIceCandidate = NoWebRTC
