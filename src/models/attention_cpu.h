// CPU kernels for the attention block: rotary embedding written straight into its destination
// (the query buffer or the KV cache), and float32 attention in one pass per (row, kv head).
//
// Why hand-written: with libtorch's ops the rotary embedding is eight elementwise ops and two
// concatenations on strided halves, and libtorch 1.13's float32 batched matmul loops over its
// small matrices one OpenBLAS call (and several tensor views) at a time; in a float32 capture the
// attention matmuls alone took about a third of the time the linear layers took. rope_into rounds
// exactly as the libtorch ops it replaces (and so as Hugging Face does); attention_f32 equals
// libtorch's attention to float32 rounding (its sums run in another order, with FMA).
// tests/unit/engine/test_attention_cpu.cc compares both with those ops. The decoder
// (models/decoder.cc) uses them on the CPU only and keeps the libtorch path everywhere else, and
// for layers whose attention pattern a hook reads.
#pragma once
#include <ATen/core/Tensor.h>

namespace steer {

// dst = rope(src), NeoX / rotate_half layout: for x = [x1, x2] (halves of head_dim),
// [x1·cos − x2·sin, x2·cos + x1·sin], each product and sum rounded to the dtype as libtorch does.
// src, dst [B, T, heads, head_dim] (any strides, last one 1; dst may be a view of the KV cache);
// cos, sin [B, T, head_dim / 2] contiguous, same dtype. CPU; float32, bfloat16 or float16.
void rope_into(const at::Tensor& src, const at::Tensor& cos, const at::Tensor& sin, at::Tensor& dst);

// True when attention_f32 can run on q: a float32 CPU tensor (AVX2 + FMA tiles where the CPU has
// them and head_dim is a multiple of 16, plain loops otherwise).
bool attention_f32_supported(const at::Tensor& q);

// softmax(scale·q·kᵀ [softcapped] + mask) · v with grouped-query heads (query head h reads kv head
// h / (H / Hkv), as HF's repeat_kv), the softmax in float32.
// q [B, H, T, hd] contiguous; k, v [B, Hkv, S, hd] with unit last stride (views of the KV cache or
// of the qkv projection); mask [B, T, S] float32 contiguous, 0 or −inf; softcap ≤ 0 means none.
// Returns z [B, T, H, hd] contiguous, the layout the output projection reads.
at::Tensor attention_f32(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                         float scale, float softcap);

}  // namespace steer
