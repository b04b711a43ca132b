// A polite data logger. Every 10 minutes it wakes, takes a reading and stores it in the SPI
// flash with a two-step write (the record, then its commit mark, 100 ms apart: a slow chip).
// It follows the polite-deployment best practices:
//  - the shutdown handler is registered before anything talks to the server;
//  - a pending update waits until the write in progress is committed;
//  - after talking to the server it stays awake a moment, so the impCloud can tell it about
//    an update, and it restarts before going back to deep sleep when one is pending.
const WAKE_INTERVAL = 600;
const RECORD = 8;            // [seq: int32][value: int16][commit: int16]
const RECORDS = 512;         // one 4 KB sector
const COMMITTED = 0x5a5a;

local updatePending = false;
local writing = false;

function restartIfIdle() {
    if (updatePending && !writing) {
        server.log("update: restarting now");
        server.restart();
    }
}

server.onshutdown(function(reason) {
    updatePending = true;
    server.log("update: pending (reason " + reason + ")" + (writing ? ", waiting for the write" : ""));
    restartIfIdle();
});

local flash = hardware.spiflash;
flash.enable();

// The newest committed record tells the next sequence number and slot.
local seq = 0, slot = 0;
for (local i = 0; i < RECORDS; i++) {
    local b = flash.read(i * RECORD, RECORD);
    local s = b.readn('i');
    b.seek(6);
    if (s != -1 && b.readn('w') == COMMITTED && s >= seq) { seq = s + 1; slot = i + 1; }
}
if (slot >= RECORDS) { flash.erasesector(0); slot = 0; }

function sleep() {
    restartIfIdle();         // never deep-sleep on a pending update
    imp.deepsleepfor(WAKE_INTERVAL);
}

function store(value) {
    writing = true;
    local rec = blob(6);
    rec.writen(seq, 'i');
    rec.writen(value, 's');
    flash.write(slot * RECORD, rec);
    imp.wakeup(0.1, function() {
        local mark = blob(2);
        mark.writen(COMMITTED, 'w');
        flash.write(slot * RECORD + 6, mark, SPIFLASH_POSTVERIFY);
        writing = false;
        server.log(format("stored reading %d = %d", seq, value));
        agent.send("reading", { seq = seq, value = value });
        imp.wakeup(1, sleep);
    });
}

store((hardware.millis() * 7 + seq * 13) % 1000);
