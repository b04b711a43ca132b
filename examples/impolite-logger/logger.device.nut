// An impolite data logger. It wakes every 10 minutes, keeps its readings in nv and writes a
// batch of three to the SPI flash — but it reports the batch to its agent *before* it
// registers its shutdown handler. When an update is pending, that agent.send() restarts the
// device at once (no handler yet), nv does not survive the update, and the batch is lost.
const WAKE_INTERVAL = 600;
const BATCH = 3;
const RECORD = 8;            // [time: int32][value: int16][commit: int16]
const RECORDS = 512;
const COMMITTED = 0x5a5a;

if (!("nv" in getroottable())) nv <- { pending = [] };
nv.pending.push({ t = time(), value = (time() / 60) % 1000 });

if (nv.pending.len() >= BATCH) {
    agent.send("batch", nv.pending);          // server contact before the handler!
    server.onshutdown(function(reason) { server.restart(); });

    local flash = hardware.spiflash;
    flash.enable();
    local slot = 0;
    while (slot < RECORDS && flash.read(slot * RECORD, 4).readn('i') != -1) slot++;
    if (slot + BATCH > RECORDS) { flash.erasesector(0); slot = 0; }
    foreach (r in nv.pending) {
        local rec = blob(RECORD);
        rec.writen(r.t, 'i');
        rec.writen(r.value, 's');
        rec.writen(COMMITTED, 'w');
        flash.write(slot++ * RECORD, rec);
    }
    server.log(format("stored %d readings, %d in flash", nv.pending.len(), slot));
    nv.pending = [];
}
imp.deepsleepfor(WAKE_INTERVAL);
