// The demo site's ServiceWorker: Swarmcast's media worker, imported as a site with a worker of
// its own would import it. It answers the requests of P2PEngineMedia's proxied URLs only.
importScripts('/vendor/swarmcast-media/sw.js');
