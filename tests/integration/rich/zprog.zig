// The rich-lldb test's Zig program (Zig 0.11): a struct with an optional pointer to
// itself, enums with negative and u128 values, a tagged union, a slice, locals in nested
// blocks. Freestanding: _start is the entry point, and the few libc functions the panic
// handler's formatting calls are defined here.
const Shape = struct {
    kind: u32,
    w: i16,
    h: i16,
    next: ?*Shape,
};

const Color = enum(i8) { red = -3, green = 0, blue = 7 };

const Big = enum(u128) { small = 1, huge = 0xffff_ffff_ffff_ffff_ffff_ffff_ffff_fff0 };

const Value = union(enum) {
    int: i64,
    float: f64,
};

pub var origin: Shape = .{ .kind = 2, .w = 3, .h = 4, .next = null };
pub var color: Color = .blue;
var big: Big = .huge;
var value: Value = .{ .int = 5 };
var name: []const u8 = "zig";

fn cMul(a: i32, b: i32) i32 {
    var r = a * b;
    return r + 1;
}

fn area(s: *Shape) i32 {
    var total: i32 = 0;
    var cur: ?*Shape = s;
    while (cur) |c| {
        total += cMul(c.w, c.h);
        cur = c.next;
    }
    const low: i32 = @truncate(@as(i128, @bitCast(@intFromEnum(big))) & 1);
    return total + @intFromEnum(color) + @as(i32, @intCast(name.len)) + low +
        @as(i32, @intCast(value.int));
}

export fn _start() callconv(.C) noreturn {
    _ = area(&origin);
    while (true) {}
}

pub fn panic(msg: []const u8, trace: ?*@import("std").builtin.StackTrace, ret: ?usize) noreturn {
    _ = msg;
    _ = trace;
    _ = ret;
    while (true) {}
}

export fn memset(dest: ?[*]u8, c: u8, n: usize) callconv(.C) ?[*]u8 {
    var i: usize = 0;
    while (i < n) : (i += 1) dest.?[i] = c;
    return dest;
}

export fn memcpy(dest: ?[*]u8, src: ?[*]const u8, n: usize) callconv(.C) ?[*]u8 {
    var i: usize = 0;
    while (i < n) : (i += 1) dest.?[i] = src.?[i];
    return dest;
}
