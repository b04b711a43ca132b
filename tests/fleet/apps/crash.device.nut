// Fails at every boot once impOS 44 is installed: a release that crash-loops the fleet.
server.log("boot on " + imp.getsoftwareversion());
if (imp.getsoftwareversion().find("44.0") != null) { local t = {}; t.missing.call(); }
imp.wakeup(5, function() { imp.deepsleepfor(600); });
