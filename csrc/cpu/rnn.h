// Fused recurrent layers: one direction of one layer of an LSTM, GRU or Elman RNN over a
// whole sequence, forward and backward (backprop through time), in one native call each.
//
// The input projection x_proj = x W_ih^T + b_ih of all time steps is computed outside (one
// big GEMM); these kernels run the recurrence. Per step t (t = L-1 .. 0 when `reverse`):
//     gates = x_proj[t] + h_prev W_hh^T + b_hh          (ember's GEMM)
//     h, c  = cell(gates, c_prev)                          (a vectorised pointwise loop)
// The cells' equations are written once, with their plain reference loops
// (lstm_forward_reference and its siblings) at the top of rnn.cpp.
// The forward saves the gate activations for the backward, which walks the steps in the
// opposite order and accumulates dW_hh with one GEMM over all steps at the end.
//
// Layouts (all C-contiguous): x_proj (L, N, G*H), w_hh (G*H, H), b_hh (G*H) or null,
// h0 / c0 (N, H), hs / cs (L, N, H), with G = 4 (LSTM: gates i, f, g, o), 3 (GRU: r, z, n)
// or 1 (RNN). Instantiated for float and double.
#pragma once
#include <cstdint>

namespace ember::cpu {

struct RnnShape {
  int64_t steps = 0;   // L
  int64_t batch = 0;   // N
  int64_t hidden = 0;  // H
  bool reverse = false;
};

// LSTM forward. Writes hs, cs (L, N, H) and gates (L, N, 4H): the activations
// [i, f, g, o] = [sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)] of every step.
template <typename T>
void lstm_forward(const RnnShape& s, const T* x_proj, const T* w_hh, const T* b_hh,
                  const T* h0, const T* c0, T* hs, T* cs, T* gates);

// LSTM backward from dhs (L, N, H) (the gradient of every output h), dh_n and dc_n (N, H)
// (of the final state) and the forward's saved hs, cs, gates. Writes dx_proj (L, N, 4H),
// dw_hh (4H, H), db_hh (4H) (null: not wanted), dh0, dc0 (N, H).
template <typename T>
void lstm_backward(const RnnShape& s, const T* dhs, const T* dh_n, const T* dc_n, const T* hs,
                   const T* cs, const T* gates, const T* h0, const T* c0, const T* w_hh,
                   T* dx_proj, T* dw_hh, T* db_hh, T* dh0, T* dc0);

// GRU forward (PyTorch's equations). Writes hs (L, N, H) and gates (L, N, 4H): per step
// [r, z, n, hn] with hn = W_hn h_prev + b_hn (the part the reset gate scales).
template <typename T>
void gru_forward(const RnnShape& s, const T* x_proj, const T* w_hh, const T* b_hh,
                 const T* h0, T* hs, T* gates);

// GRU backward. Writes dx_proj (L, N, 3H), dw_hh (3H, H), db_hh (3H) (null: not wanted),
// dh0 (N, H).
template <typename T>
void gru_backward(const RnnShape& s, const T* dhs, const T* dh_n, const T* hs, const T* gates,
                  const T* h0, const T* w_hh, T* dx_proj, T* dw_hh, T* db_hh, T* dh0);

// Elman RNN forward: h = act(x_proj[t] + h_prev W_hh^T + b_hh), act = tanh or relu.
// Writes hs (L, N, H) only (the backward needs nothing else).
template <typename T>
void rnn_forward(const RnnShape& s, bool relu, const T* x_proj, const T* w_hh, const T* b_hh,
                 const T* h0, T* hs);

// Elman RNN backward. Writes dx_proj (L, N, H), dw_hh (H, H), db_hh (H) (null: not
// wanted), dh0 (N, H).
template <typename T>
void rnn_backward(const RnnShape& s, bool relu, const T* dhs, const T* dh_n, const T* hs,
                  const T* h0, const T* w_hh, T* dx_proj, T* dw_hh, T* db_hh, T* dh0);

// The plain references (rnn.cpp, top): the same outputs by direct loops, one step at a time,
// accumulating in double. The tests' oracle for the fast kernels above.
template <typename T>
void lstm_forward_reference(const RnnShape& s, const T* x_proj, const T* w_hh, const T* b_hh,
                            const T* h0, const T* c0, T* hs, T* cs, T* gates);
template <typename T>
void gru_forward_reference(const RnnShape& s, const T* x_proj, const T* w_hh, const T* b_hh,
                           const T* h0, T* hs, T* gates);
template <typename T>
void rnn_forward_reference(const RnnShape& s, bool relu, const T* x_proj, const T* w_hh,
                           const T* b_hh, const T* h0, T* hs);

}  // namespace ember::cpu
