// Hears of updates and never restarts for them: only the cloud's deadline (or a forced path) updates it.
server.onshutdown(function(reason) { server.log("update pending (" + reason + "): later"); });
server.log("awake");
imp.wakeup(5, function() { imp.deepsleepfor(1800); });
