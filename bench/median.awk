# Median of every measured numeric field over the JSON lines of one case. A case is the
# set of string fields plus the setting fields (numbers that name the case rather than
# measure it: threads, bl, d_max, tile, devices, T, K, beta, n).
# Input: flat JSON objects, one per line. Output: one line per case, in first-seen order.
function median(s,    a, i, j, t, k) {
    k = split(s, a, " ")
    for (i = 2; i <= k; i++) { t = a[i]; j = i - 1; while (j > 0 && a[j] + 0 > t + 0) { a[j + 1] = a[j]; j-- } a[j + 1] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
function setting(name) { return name ~ /^(threads|bl|d_max|tile|devices|T|K|beta|n)$/ }
{
    line = $0; gsub(/^[ \t]*\{|\}[ \t]*$/, "", line)
    n = split(line, kv, /,[ ]*"/)
    key = ""; nums = ""
    for (i = 1; i <= n; i++) {
        f = kv[i]; sub(/^"/, "", f)
        c = index(f, ":"); name[i] = substr(f, 1, c - 2); val[i] = substr(f, c + 1)
        if (val[i] ~ /^"/ || setting(name[i])) key = key "\"" name[i] "\":" val[i] ","
        else nums = nums name[i] " "
    }
    if (!(key in seen)) { seen[key] = 1; order[++nk] = key; names[key] = nums }
    for (i = 1; i <= n; i++)
        if (val[i] !~ /^"/ && !setting(name[i])) vals[key, name[i]] = vals[key, name[i]] " " val[i]
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
