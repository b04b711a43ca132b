// impsim's own JSON encoder, API-compatible with the electricimp JSONEncoder library 2.x:
//   JSONEncoder.encode(value) -> compact JSON text
//
// * null, bools, integers; floats as Squirrel prints them (5.125, 1e+20)
// * strings: ", \ and the control characters escaped (\b \f \n \r \t, others as \u00XX);
//   other bytes, UTF-8 included, are copied as they are
// * blobs: as strings of their bytes
// * arrays; tables in Squirrel's iteration order, keys as their string form
// * classes: their non-function members
// * instances: _serializeRaw() is pasted in as is; else _serialize() is encoded; else the
//   non-function members (foreach, so a _nexti metamethod decides the members)
// * functions are left out of tables, classes and instances; any other value (a function in an
//   array or alone included) is encoded as its string form
//
// Written for impsim (MIT licence, like the rest of the project); not derived from the library's
// source.

class JSONEncoder {
    static VERSION = "2.0.0";

    // Deeper nesting than this is almost certainly a reference cycle.
    static _MAX_DEPTH = 256;

    function encode(value) {
        return JSONEncoder._encode(value, 0);
    }

    function _encode(value, depth) {
        if (depth > JSONEncoder._MAX_DEPTH) throw "JSONEncoder: nesting too deep (a reference cycle?)";
        switch (typeof value) {
            case "null":
                return "null";
            case "bool":
                return value ? "true" : "false";
            case "integer":
            case "float":
                return value.tostring();
            case "string":
                return JSONEncoder._quote(value);
            case "blob":
                return JSONEncoder._quote(value.tostring());
            case "array":
                local parts = [];
                foreach (v in value) parts.push(JSONEncoder._encode(v, depth + 1));
                return "[" + JSONEncoder._join(parts) + "]";
            case "table":
            case "class":
                return JSONEncoder._members(value, depth);
            case "instance":
                if ("_serializeRaw" in value) return value._serializeRaw().tostring();
                if ("_serialize" in value) return JSONEncoder._encode(value._serialize(), depth + 1);
                return JSONEncoder._members(value, depth);
            case "function":
            case "native function":
                return JSONEncoder._quote(value.tostring());
            default:
                // Other instances with a _typeof metamethod, generators, threads, weak refs...
                if (type(value) == "instance") {
                    if ("_serializeRaw" in value) return value._serializeRaw().tostring();
                    if ("_serialize" in value) return JSONEncoder._encode(value._serialize(), depth + 1);
                    return JSONEncoder._members(value, depth);
                }
                return JSONEncoder._quote(value.tostring());
        }
    }

    // Non-function members: of a table or class as foreach sees them; of an instance as foreach
    // sees them when a _nexti metamethod says how to iterate it, else its class's members with
    // the instance's values.
    function _members(value, depth) {
        local parts = [], keys = value;
        if (type(value) == "instance") {
            try {
                foreach (k, v in value) break;
            } catch (e) {
                keys = value.getclass();
            }
        }
        foreach (k, v in keys) {
            if (keys != value) v = value[k];
            local t = typeof v;
            if (t == "function" || t == "native function") continue;
            parts.push(JSONEncoder._quote(k.tostring()) + ":" + JSONEncoder._encode(v, depth + 1));
        }
        return "{" + JSONEncoder._join(parts) + "}";
    }

    function _join(parts) {
        local s = "";
        foreach (i, p in parts) s += i ? "," + p : p;
        return s;
    }

    function _quote(s) {
        local out = "\"";
        local start = 0;
        local n = s.len();
        for (local i = 0; i < n; i++) {
            local c = s[i];
            local esc = null;
            if (c == '"') esc = "\\\"";
            else if (c == '\\') esc = "\\\\";
            else if (c >= 0 && c < 0x20) {
                switch (c) {
                    case 0x08: esc = "\\b"; break;
                    case 0x09: esc = "\\t"; break;
                    case 0x0A: esc = "\\n"; break;
                    case 0x0C: esc = "\\f"; break;
                    case 0x0D: esc = "\\r"; break;
                    default: esc = format("\\u%04x", c);
                }
            }
            if (esc != null) {
                out += s.slice(start, i) + esc;
                start = i + 1;
            }
        }
        return out + s.slice(start) + "\"";
    }
}
