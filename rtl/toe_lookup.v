`resetall
`default_nettype none
// toe_lookup: socket lookup for toe_engine (architecture.md "Receive: socket lookup").
// The hash bucket of a 4-tuple for the three users of the hash chains: a frame's lookup
// (pick_bkt, of the metadata record as S_IDLE picks it; the 32-bit fold x of the record taken
// also makes an accepted socket's ISS), SOCK_ADD's insertion at the head of its chain (S_REQ) and SOCK_DEL's unlink
// (S_DEL_UL); and the match of the socket just read during the chain walk (S_LOOK1): local
// and remote IP and port, VLAN id and IP protocol. Combinational.
// Hash: x = rip ^ lip ^ {rport, lport}; x ^= x >> 16; x ^= x >> 8; bucket = x mod HASH_BUCKETS
// (HASH_BUCKETS is a power of two: the low HW bits).
`include "buflet_defs.vh"
`include "buflet_checks.vh"
module toe_lookup #(
    parameter HASH_BUCKETS = 256,
    parameter HW           = (HASH_BUCKETS > 1) ? $clog2(HASH_BUCKETS) : 1
) (
    // the frame's metadata: remote = source, local = destination
    input  wire [31:0]   mt_src_ip,
    input  wire [31:0]   mt_dst_ip,
    input  wire [15:0]   mt_src_port,
    input  wire [15:0]   mt_dst_port,
    input  wire [11:0]   mt_vlan,
    input  wire          mt_udp,      // a datagram (protocol UDP, else TCP)
    // the metadata record the engine is picking (its FIFO's head): its bucket goes to the
    // bucket read's address as it is picked, so a frame for the lookup skips S_META
    input  wire [31:0]   pk_src_ip,
    input  wire [31:0]   pk_dst_ip,
    input  wire [15:0]   pk_src_port,
    input  wire [15:0]   pk_dst_port,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [511:0]  rq,          // the request entry (a SOCK_ADD's sock_desc)
    input  wire [511:0]  sk,          // the working socket descriptor (SOCK_DEL)
    input  wire [511:0]  sk_rd,       // the socket descriptor just read (chain walk)
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [HW-1:0] pick_bkt,
    output wire [31:0]   meta_x,      // the frame's 32-bit folded hash (before the mask): an accepted ISS
    output wire [HW-1:0] req_bkt,
    output wire [HW-1:0] del_bkt,
    output wire          sk_match
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        if (!`BF_IS_POW2(HASH_BUCKETS)) begin : g_check_hash_buckets
            `BF_ERROR("toe_lookup: HASH_BUCKETS must be a power of two")
        end
    endgenerate
    localparam [7:0] PROTO_TCP = `BF_IP_PROTO_TCP;
    localparam [7:0] PROTO_UDP = `BF_IP_PROTO_UDP;
    function [31:0] fold_f;
        input [31:0] rip;
        input [31:0] lip;
        input [15:0] rport;
        input [15:0] lport;
        reg [31:0] x;
        begin
            x = rip ^ lip ^ {rport, lport};
            x = x ^ (x >> 16);
            x = x ^ (x >> 8);
            fold_f = x;
        end
    endfunction
    /* verilator lint_off UNUSEDSIGNAL */
    function [HW-1:0] hash_f(input [31:0] rip, input [31:0] lip, input [15:0] rport, input [15:0] lport);
        reg [31:0] x;   // the bucket is its low HW bits
        begin
            x = fold_f(rip, lip, rport, lport);
            hash_f = x[HW-1:0];
        end
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    assign meta_x   = fold_f(mt_src_ip, mt_dst_ip, mt_src_port, mt_dst_port);
    assign pick_bkt = hash_f(pk_src_ip, pk_dst_ip, pk_src_port, pk_dst_port);
    assign req_bkt  = hash_f(rq[`BF_SOCK_DESC_REMOTE_IP_RANGE], rq[`BF_SOCK_DESC_LOCAL_IP_RANGE],
                             rq[`BF_SOCK_DESC_REMOTE_PORT_RANGE], rq[`BF_SOCK_DESC_LOCAL_PORT_RANGE]);
    assign del_bkt  = hash_f(sk[`BF_SOCK_DESC_REMOTE_IP_RANGE], sk[`BF_SOCK_DESC_LOCAL_IP_RANGE],
                             sk[`BF_SOCK_DESC_REMOTE_PORT_RANGE], sk[`BF_SOCK_DESC_LOCAL_PORT_RANGE]);

    assign sk_match = (sk_rd[`BF_SOCK_DESC_LOCAL_IP_RANGE]    == mt_dst_ip) &&
                      (sk_rd[`BF_SOCK_DESC_REMOTE_IP_RANGE]   == mt_src_ip) &&
                      (sk_rd[`BF_SOCK_DESC_LOCAL_PORT_RANGE]  == mt_dst_port) &&
                      (sk_rd[`BF_SOCK_DESC_REMOTE_PORT_RANGE] == mt_src_port) &&
                      (sk_rd[`BF_SOCK_DESC_VLAN_RANGE] == {4'd0, mt_vlan}) &&
                      (sk_rd[`BF_SOCK_DESC_PROTO_RANGE] == (mt_udp ? PROTO_UDP : PROTO_TCP));
endmodule
`resetall
