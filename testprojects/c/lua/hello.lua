-- Run by the Lua interpreter built from onelua.c (see BUILD): a batch app that prints and exits 0.
-- This file is testprojects/c/lua/hello.lua in the repository; `relocated_files` puts it at
-- /app/scripts/hello.lua in the guest, where the image's `args` expect it, and
-- `unikernel_files` puts greeting.txt at /etc/hello/greeting.txt.
local greeting = assert(io.open("/etc/hello/greeting.txt")):read("l")
print(greeting .. " from " .. _VERSION .. " (" .. arg[0] .. ")")
local squares = {}
for i = 1, 5 do squares[#squares + 1] = i * i end
print("squares: " .. table.concat(squares, " "))
print(string.format("sqrt(2) = %.6f", math.sqrt(2)))
os.exit(0)
