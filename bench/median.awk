# Median of every numeric field over the JSON lines that share their string fields.
# Input: flat JSON objects, one per line. Output: one line per key, in first-seen order.
function median(s, n,    a, i, j, t, k) {
    k = split(s, a, " ")
    for (i = 2; i <= k; i++) { t = a[i]; j = i - 1; while (j > 0 && a[j] + 0 > t + 0) { a[j + 1] = a[j]; j-- } a[j + 1] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{
    line = $0; gsub(/^[ \t]*\{|\}[ \t]*$/, "", line)
    n = split(line, kv, /,[ ]*"/)
    key = ""; nums = ""
    for (i = 1; i <= n; i++) {
        f = kv[i]; sub(/^"/, "", f)
        c = index(f, ":"); name = substr(f, 1, c - 2); val = substr(f, c + 1)
        if (val ~ /^"/) key = key "\"" name "\":" val ","
        else nums = nums name " "
        field[NR, name] = val
    }
    if (!(key in seen)) { seen[key] = 1; order[++nk] = key; names[key] = nums }
    for (i = 1; i <= n; i++) {
        f = kv[i]; sub(/^"/, "", f); c = index(f, ":"); name = substr(f, 1, c - 2); val = substr(f, c + 1)
        if (val !~ /^"/) { vals[key, name] = vals[key, name] " " val; cnt[key] ++ }
    }
    runs[key]++
}
END {
    for (o = 1; o <= nk; o++) {
        key = order[o]; out = "{" key; m = split(names[key], nm, " ")
        for (i = 1; i <= m; i++) out = out "\"" nm[i] "\":" sprintf("%.6g", median(substr(vals[key, nm[i]], 2))) ","
        out = out "\"runs\":" runs[key] "}"
        print out
    }
}
