"""Device <-> agent messages, serialisation, agent storage and HTTP (imp-api.md §1.2, §2.11, §3)."""

from runtime_helpers import agent_lines, device_lines, simulate


def test_round_trip_with_deep_copy():
    """§3.1-§3.4, §3.6: tables, arrays and scalars arrive as a deep copy."""
    sim = simulate('''
        local t = { a = [1, 2.5, "x", null, true], b = { c = -3 } };
        agent.send("data", t);
        t.a.push(99);
        agent.on("back", function(d) { server.log("back " + d.a.len() + " " + d.b.c); });
    ''', '''
        device.on("data", function(d) {
            server.log(d.a[0] + " " + d.a[1] + " " + d.a[2] + " " + (d.a[3] == null) + " " + d.a[4] + " " + d.b.c);
            device.send("back", d);
        });
    ''', run="10s")
    assert agent_lines(sim) == ["1 2.5 x true true -3"]
    assert device_lines(sim) == ["back 5 -3"]


def test_unsafe_strings_arrive_as_blobs():
    """§3.6: a string that is not safe UTF-8 (a NUL byte) is sent as a blob."""
    sim = simulate('agent.send("s", "a\\x00b"); agent.send("t", "plain");',
                   'device.on("s", function(d) { server.log(typeof d + " " + d.len()); });'
                   'device.on("t", function(d) { server.log(typeof d); });', run="10s")
    assert agent_lines(sim) == ["blob 3", "string"]


def test_a_value_that_cannot_be_serialised_is_refused_at_the_send():
    """§3.6: a function, class or instance passed as the message itself is refused with a
    runtime error at the send (the error text is UNCONFIRMED)."""
    sim = simulate('''
        try { agent.send("f", function() {}); } catch (e) { server.log("refused: " + e); }
        class C {}
        try { agent.send("i", C()); } catch (e) { server.log("refused: " + e); }
    ''', 'device.on("f", function(d) { server.log("got it"); });', run="10s")
    assert device_lines(sim) == ["refused: agent.send: cannot serialise the message: it is a function",
                                 "refused: agent.send: cannot serialise the message: it is a instance"]
    assert agent_lines(sim) == []


# D:resources/serialisablesquirrel: "Any table of key-value pairs is serializable provided all the
# keys are safe strings" (ASCII/UTF-8, no NUL); "When attempting to serialize a table or array which
# contains some serializable elements and some non-serializable ones, the non-serializable ones are
# dropped without raising an error." The device does that (and logs it); the agent refuses.
DROPPING_SENDER = r'''
    class C {}
    local t = { ok = 1, cb = function() {} };
    t["\x00\x01"] <- "value";       // the documented example of a key that is not safe
    t[7] <- "seven";                  // an integer is not a string
    t["caf\xc3\xa9"] <- "utf-8";    // a UTF-8 key is safe
    SEND("table", t);
    SEND("array", [function() {}, 1, C(), { "\x00": 2 }, "\x00\x01"]);
    SEND("plain", { a = [1, 2] });
'''
DROPPING_RECEIVER = r'''
    function show(d) {
        if (typeof d == "table") {
            local keys = [];
            foreach (k, v in d) keys.push(k + "=" + (typeof v == "table" ? "{" + show(v) + "}" : typeof v == "blob" ? "blob" + v.len() : v));
            keys.sort();
            return keys.reduce(@(a, b) a + "," + b);
        }
        local items = [];
        foreach (v in d) items.push(typeof v == "table" ? "{" + (v.len() ? show(v) : "") + "}" : typeof v == "blob" ? "blob" + v.len() : v);
        return "[" + items.reduce(@(a, b) a + "," + b) + "]";
    }
    foreach (name in ["table", "array"]) ON(name, function(d) { server.log(show(d)); });
    ON("plain", function(d) { server.log("plain " + d.a.len()); });
'''


def test_the_device_leaves_out_what_cannot_be_serialised_inside_a_message():
    """§3.6: a table entry whose key is not a safe string, and a member or value that cannot be
    serialised, are left out of the copy and the send succeeds. The device logs that it skipped
    data ("ERROR: skipped unserialisable data", as MessageManager's tests quote it)."""
    sim = simulate(DROPPING_SENDER.replace("SEND", "agent.send"),
                   DROPPING_RECEIVER.replace("ON", "device.on"), run="10s")
    assert agent_lines(sim) == ["caf\u00e9=utf-8,ok=1", "[1,{},blob2]", "plain 2"]
    errors = [e.text for e in sim.log if e.type == "server.error"]
    assert errors == ["ERROR: skipped unserialisable data"] * 2


def test_the_agent_refuses_data_it_cannot_serialise_at_the_send():
    """The agent's device.send raises for any part that cannot be serialised (MessageManager's
    agent-side tests, which pass on hardware, count on device.send throwing for a function inside
    the data); nothing is sent."""
    sim = simulate(DROPPING_RECEIVER.replace("ON", "agent.on"), r'''
        imp.wakeup(5, function() {
            local t = { ok = 1 };
            t["\x00\x01"] <- "value";
            foreach (data in [t, { cb = function() {} }, [1, [function() {}]], { plain = [1] }]) {
                try { device.send("table", data); server.log("sent"); } catch (e) { server.log(e); }
            }
        });
    ''', run="10s")
    assert agent_lines(sim) == [
        "device.send: cannot serialise the message: it contains a table key that is not a safe string "
        "(a string with a NUL character)",
        "device.send: cannot serialise the message: it contains a function",
        "device.send: cannot serialise the message: it contains a function",
        "sent"]
    assert len(device_lines(sim)) == 1 and device_lines(sim)[0].startswith("plain=(array : ")


def test_nv_and_server_save_follow_their_side():
    """§6: nv kept over a deep sleep loses the entries that cannot be serialised, without an
    error (the device's serialiser). §2.11: server.save() on the agent refuses them, and stores
    NaN and infinities as null (documented)."""
    sim = simulate(r'''
        if (hardware.wakereason() == WAKEREASON_TIMER) {
            local keys = [];
            foreach (k, v in nv) keys.push(k);
            server.log("nv " + keys.len() + " " + nv.n);
        } else {
            nv <- { n = 5, f = function() {} };
            nv["\x00k"] <- 1;
            imp.deepsleepfor(10);
        }
    ''', r'''
        local t = { kept = [1, function() {}] };
        try { server.save(t); } catch (e) { server.log(e); }
        server.save({ inf = [1e300 * 1e300, -1e300 * 1e300], n = 1 });
        local back = server.load();
        server.log("saved " + back.len() + " " + (back.inf[0] == null) + " " + (back.inf[1] == null));
    ''', run="1m")
    assert device_lines(sim) == ["nv 1 5"]
    assert agent_lines(sim) == ["cannot serialise the table: it contains a function", "saved 2 true true"]


def test_message_without_handler_is_dropped_with_an_error():
    """§3.7: no handler -> dropped, with an error in the receiver's log naming the message."""
    sim = simulate('agent.send("nobody", 1);', 'device.send("nobody2", 2);', run="10s")
    assert [e.text for e in sim.log if e.type == "agent.error"] == ['ERROR: no handler for agent.send(): "nobody"']


def test_agent_message_to_offline_device_is_lost():
    """§3.3: if the device is not connected, device.send() loses the message."""
    sim = simulate('''
        agent.on("hi", function(d) { server.log("got " + d); });
        imp.wakeup(5, function() { server.disconnect(); });
        imp.wakeup(60, function() { server.log("back"); });
    ''', '''
        imp.wakeup(30, function() { device.send("hi", 1); });
        imp.wakeup(90, function() { device.send("hi", 2); });
    ''', run="2m")
    assert device_lines(sim) == ["back", "got 2"]


def test_agent_notices_disconnect_after_a_delay():
    """§3.5: onconnect at once; ondisconnect after missed pings (about 270 s)."""
    sim = simulate('imp.wakeup(10, function() { imp.deepsleepfor(3600); });', '''
        device.onconnect(function() { server.log("on " + time()); });
        device.ondisconnect(function() { server.log("off " + time() + " " + device.isconnected()); });
    ''', run="10m")
    start = sim.epoch_us // 1_000_000
    assert agent_lines(sim) == [f"on {start + 2}", f"off {start + 12 + 270} false"]


def test_server_save_and_load_survive_agent_restart_and_reject_non_tables():
    """§2.11: server.save needs a table, keeps it across restarts; server.load() gives {} at first."""
    agent = '''
        local d = server.load();
        server.log("loaded " + d.len());
        try { server.save("x"); } catch (e) { server.log("error: " + e); }
        d.k <- "v";
        server.save(d);
    '''
    sim = simulate(None, agent, run="1s")
    sim.agent.start()
    sim.run("1s")
    refused = "error: parameter 1 has an invalid type 'string' ; expected: 'table'"
    assert agent_lines(sim) == ["loaded 0", refused, "loaded 1", refused]


def test_http_onrequest_and_404_without_handler():
    """§1.2: requests reach http.onrequest; no handler -> 404."""
    sim = simulate(None, '''
        http.onrequest(function(req, res) {
            res.header("X-Path", req.path);
            imp.wakeup(1, function() { res.send(201, req.method + " " + req.query.q + " " + req.body); });
        });
    ''', run="1s")
    assert sim.http("POST", "/p?q=1", "body") == (201, "POST 1 body", {"x-path": "/p"})
    assert simulate(None, 'server.log("no handler");', run="1s").http() == (404, "", {})


def test_agent_url_and_device_id():
    """§3.5, §5.2: the device ID is 16 lowercase hex chars and the agent knows it."""
    sim = simulate('server.log(hardware.getdeviceid());',
                   'server.log(imp.configparams.deviceid + " " + http.agenturl());', run="5s")
    dev_id = device_lines(sim)[0]
    assert len(dev_id) == 16 and all(c in "0123456789abcdef" for c in dev_id)
    assert agent_lines(sim) == [f"{dev_id} {sim.agent.url}"]


def test_apis_of_the_other_side_do_not_exist():
    """imp-api.md: an API used on the wrong side does not exist there."""
    sim = simulate('server.log(("device" in getroottable()) + " " + ("http" in getroottable()) + " " + ("nv" in getroottable()));',
                   'server.log(("agent" in getroottable()) + " " + ("hardware" in getroottable()));', run="5s")
    assert device_lines(sim) == ["false false false"]
    assert agent_lines(sim) == ["false false"]


def test_http_request_to_own_url_loops_back_to_onrequest():
    """§1.2: the agent's own URL reaches its http.onrequest; other URLs are unreachable (status 6)."""
    sim = simulate(None, '''
        http.onrequest(function(req, res) { res.send(200, "echo " + req.body); });
        http.post(http.agenturl() + "/x", {}, "hi").sendasync(function(r) {
            server.log(r.statuscode + " " + r.body);
            http.get("https://example.invalid/").sendasync(function(r2) { server.log("other " + r2.statuscode); });
        });
    ''', run="5s")
    assert agent_lines(sim) == ["200 echo hi", "other 6"]


def test_net_info_has_active_only_when_connected():
    """§4.3: imp.net.info() lists interfaces; `active` is absent when not connected."""
    sim = simulate('''
        local a = imp.net.info();
        server.disconnect();
        local b = imp.net.info();
        server.connect();
        server.log(a.interface[0].type + " " + ("active" in a) + " " + ("active" in b));
    ''')
    assert device_lines(sim) == ["wifi true false"]


def test_http_request_objects_cancel_and_send_once():
    """D:api/httprequest/cancel: after cancel() neither callback runs; sendsync() to a host nothing
    answers fails like an unreachable one (6); a request is sent once."""
    sim = simulate(None, '''
        http.onrequest(function(req, res) { server.log("handler ran"); res.send(200, "ok"); });
        local r = http.post(http.agenturl() + "/x", {}, "hi");
        r.sendasync(function(resp) { server.log("never " + resp.statuscode); });
        r.cancel();
        local other = http.get("https://example.invalid/");
        other.sendasync(function(resp) { server.log("never either"); }, null, 30);
        other.cancel();
        http.post("", {}, "").cancel();  // cancelling a request never sent does nothing
        local sync = http.get("https://example.invalid/");
        sync.setvalidation(0);
        server.log("sync " + sync.sendsync().statuscode);
        try { sync.sendsync(); } catch (e) { server.log(e); }
        local kept = http.post(http.agenturl() + "/y", {}, "hi");
        kept.sendasync(function(resp) { server.log("kept " + resp.statuscode + " " + resp.body); });
    ''', run="5s")
    assert [e.text for e in sim.log if e.source == "agent"] == [
        "sync 6", "httprequest: a request can be sent only once", "handler ran", "kept 200 ok"]


def test_http_hash_digests_and_hmacs_are_blobs():
    """D:api/http/hash/hmacsha256 (and its siblings): a string or blob in, the digest as a blob
    out; the documented example's HMAC-SHA-256 of the quick brown fox with key "key"."""
    sim = simulate('server.log("http" in getroottable());', r'''
        function hex(b) { local s = ""; foreach (x in b) s += format("%02x", x); return s; }
        local h = http.hash.hmacsha256("The quick brown fox jumps over the lazy dog", "key");
        server.log(typeof h + " " + hex(h));
        local b = blob(); b.writestring("abc");
        server.log(hex(http.hash.md5(b)) + " " + hex(http.hash.sha1("abc")));
        server.log(http.hash.sha256("").len() + " " + http.hash.sha512("abc").len() + " "
                   + http.hash.hmacmd5("a", "k").len() + " " + http.hash.hmacsha1("a", b).len() + " "
                   + http.hash.hmacsha512("a", "k").len());
        try { http.hash.sha256(5); } catch (e) { server.log(e); }
    ''', run="5s")
    assert agent_lines(sim) == [
        "blob f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
        "900150983cd24fb0d6963f7d28e17f72 a9993e364706816aba3e25717850c26c9cd0d89d",
        "32 64 16 20 64",
        "parameter 1 has an invalid type 'integer' ; expected: 'string|instance'"]
    assert device_lines(sim) == ["false"]  # the device has no http object


def test_a_table_that_holds_the_same_table_twice_at_every_level_is_refused_not_expanded():
    """Serialising copies shared tables (the imp's format has no references), so 22 levels that
    each hold the level below twice would be 4 million tables: the copy stops past 1 MB, far
    over any message, save or nv the imp takes, with an error at the call."""
    code = '''
        local v = null;
        for (local i = 0; i < 22; i++) v = {x = v, y = [v]};
        try { SEND("d", v); } catch (e) { server.log(e); }
        try { SAVE; } catch (e) { server.log(e); }
        server.log("done");
    '''
    sim = simulate(code.replace("SEND", "agent.send").replace("SAVE", "null"),
                   agent=code.replace("SEND", "device.send").replace("SAVE", "server.save({v = v})"), run="10s")
    over = "cannot serialise {}: it is over 1 MB serialised, far over what the imp sends or stores"
    assert device_lines(sim) == ["agent.send: " + over.format("the message"), "done"]
    assert agent_lines(sim) == ["device.send: " + over.format("the message"), over.format("the table"), "done"]


def test_a_shared_table_arrives_as_a_copy_at_each_place_it_was():
    """The imp's format has no references: a table the message holds twice arrives as two
    tables, also when the device leaves something else out of the message (the copy the host
    makes then shares its copy of the table, and the receiver still gets two)."""
    sim = simulate('''
        local t = {x = 1};
        agent.send("m", {a = t, b = [t], f = function() {}});
        agent.send("m", {a = t, b = [t]});
    ''', '''
        device.on("m", function(d) {
            d.a.x = 2;
            server.log(d.b[0].x + " " + ("f" in d));
        });
    ''', run="10s")
    assert agent_lines(sim) == ["1 false", "1 false"]


def test_a_message_whose_last_part_passes_1_mb_is_refused():
    """One 256 KiB string held four times is a little over 1 MB serialised: refused at the call
    on both sides, as a larger value is; three times goes."""
    code = '''
        ON("d", function(v) { server.log("got " + v.len()); });
        local s = "x"; while (s.len() < 262144) s += s;
        local u = {s = s};
        try { SEND("d", {a = u, b = u, c = u, d = u}); } catch (e) { server.log(e); }
        SEND("d", {a = u, b = u, c = u});
        server.log("sent");
    '''
    sim = simulate(code.replace("SEND", "agent.send").replace("ON", "agent.on"),
                   agent=code.replace("SEND", "device.send").replace("ON", "device.on"), run="10s", imp="imp005")
    over = "cannot serialise the message: it is over 1 MB serialised, far over what the imp sends or stores"
    assert device_lines(sim) == ["agent.send: " + over, "sent"]  # the agent sent before the device was online
    assert agent_lines(sim) == ["device.send: " + over, "sent", "got 3"]


def test_sharing_in_a_value_is_refused_as_soon_as_the_copy_passes_1_mb():
    """40 levels that each hold the level below twice (2^40 tables as copies) are refused
    without expanding them, on the device's way (leaving out a function) and the agent's, and
    nesting past the limit through a shared table is refused like any other."""
    code = '''
        local v = {n = 1};
        for (local i = 0; i < 40; i++) v = {x = v, y = v, f = function() {}};
        try { SEND("d", v); } catch (e) { server.log(e); }
        local s = [1]; local d = s;
        for (local i = 0; i < 63; i++) d = [d];
        try { SEND("d", [s, d, function() {}]); } catch (e) { server.log(e); }
    '''
    sim = simulate(code.replace("SEND", "agent.send"), agent=code.replace("SEND", "device.send"), run="10s")
    over = "cannot serialise the message: it is over 1 MB serialised, far over what the imp sends or stores"
    deep = "cannot serialise the message: nested too deeply (a cycle?)"
    assert device_lines(sim) == ["agent.send: " + over, "agent.send: " + deep]
    assert agent_lines(sim)[0] == "device.send: cannot serialise the message: it contains a function"
