// Symbol visibility of librapsam: it is built with hidden visibility, so only what is marked
// RAPSAM_EXPORT is part of its ABI (and exception types are shared with the caller's code).
#ifndef RAPSAM_EXPORT_H
#define RAPSAM_EXPORT_H

#if defined(_WIN32)
#define RAPSAM_EXPORT __declspec(dllexport)
#else
#define RAPSAM_EXPORT __attribute__((visibility("default")))
#endif

#endif  // RAPSAM_EXPORT_H
