/* lx_study — CLIP models and logistic regression for the study's chapters
 * (lx_study.c); registered into `cb` by luaopen_clipbook. */
#ifndef LX_STUDY_H
#define LX_STUDY_H

#include "lx.h"

/* Adds cb.clip_new, cb.clip_load, cb.clip_pretrain, cb.logreg_fit and the
 * model metatable to the module table on top of the stack. */
void lx_study_register(lua_State *L);

#endif
